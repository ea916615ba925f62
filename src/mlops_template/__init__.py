"""mlops-template: a reproducible, tracked training pipeline for tabular models."""

__version__ = "0.1.0"
