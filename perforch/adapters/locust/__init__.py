"""The Locust adapter: locustfile generation, command line, per-request samples, CSV ingest."""
