"""regctl: a fast command-line model registry over MLflow's local file store."""

__version__ = "0.1.0"
