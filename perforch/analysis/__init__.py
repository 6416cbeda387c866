"""Statistics, SLO verdicts and findings over the samples frame (numpy and pandas load in the modules)."""

METHODS = ("linear", "nearest-rank")  # percentile definitions, see stats.py; here so the CLI checks them cheaply
