"""Failure handling: record a failed execution on its run and alert."""
from chalicelib.failures.stage import INGEST_STATE, REJECTED_ERROR, record_failure

__all__ = ["INGEST_STATE", "REJECTED_ERROR", "record_failure"]
