"""Failure handling: record a failed execution on its run and alert."""
from chalicelib.failures.stage import FAILED_EXECUTIONS_PATTERN, REJECTED_ERROR, record_failure

__all__ = ["FAILED_EXECUTIONS_PATTERN", "REJECTED_ERROR", "record_failure"]
