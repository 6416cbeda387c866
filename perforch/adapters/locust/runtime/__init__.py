"""Modules copied beside every generated locustfile (see generate.py). perforch itself never
imports perforch_locust: it imports Locust, and perforch runs Locust only as a separate program.
perforch_wire is plain Python (no Locust) and is unit-tested directly."""
