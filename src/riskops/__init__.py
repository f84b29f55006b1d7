"""riskops: risk control and operations analytics on one stream of e-commerce events."""

__version__ = "0.1.0"
