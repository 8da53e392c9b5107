"""Runs whose record disagrees with their execution, put right from the execution.

The failure handler records a failed run from the execution's status-change
event.  When that handler fails for good (AWS retries an asynchronous invocation
twice, then hands the event to its on-failure destination), the execution has
ended but the run still says RUNNING or WRITING.  Reading a run (``GET /runs/{id}``,
its history, a redrive, ``etl run``'s report) reconciles it: an ended execution
wins over the record, and the failure is recorded and alerted as the handler
would have.
"""
from __future__ import annotations

import json

from chalicelib import run_record as r
from chalicelib.failures import record_failure
from chalicelib.run_record import RunItem
from chalicelib.services import Services

_FAILED_EXECUTION = ("FAILED", "TIMED_OUT", "ABORTED")


def reconciled(services: Services, item: RunItem) -> RunItem:
    """``item``, or the run as recorded after its ended execution's failure was recorded.

    A run in a terminal status, or whose execution is still running or succeeded
    (the state machine records its own outcomes), is returned as it is.
    """
    if item.get(r.STATUS) in r.TERMINAL_STATUSES or not item.get(r.EXECUTION_ARN):
        return item
    execution = services.executions.describe(item[r.EXECUTION_ARN])
    if execution is None or execution["status"] not in _FAILED_EXECUTION:
        return item
    record_failure({"detail": {
        "executionArn": execution["executionArn"],
        "stateMachineArn": execution.get("stateMachineArn"),
        "status": execution["status"],
        "startDate": int(execution["startDate"].timestamp() * 1000),
        "input": execution.get("input") if isinstance(execution.get("input"), str) else json.dumps(execution.get("input")),
        "error": execution.get("error"),
        "cause": execution.get("cause"),
    }}, services)
    return services.runs.get(item[r.RUN_ID]) or item
