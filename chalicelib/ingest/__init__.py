"""Ingest: pin the object, record the run, parse the file into staged batches."""
from chalicelib.ingest.stage import ingest

__all__ = ["ingest"]
