"""Ingest: pin the object, record the run, parse the file into staged batches."""
from chalicelib.ingest.stage import STAGED_SCHEMA, ingest

__all__ = ["STAGED_SCHEMA", "ingest"]
