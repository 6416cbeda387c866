"""perforch: describe a load test once, run it on k6, Locust or JMeter, read one exact report."""

__version__ = "0.1.0"

__all__ = ["__version__"]
