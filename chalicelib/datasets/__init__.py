"""Datasets: a JSON Schema plus an optional transform spec, found by name."""
from chalicelib.datasets.registry import Dataset, DatasetRegistry, UnknownDatasetError

__all__ = ["Dataset", "DatasetRegistry", "UnknownDatasetError"]
