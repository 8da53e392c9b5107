"""Runs whose record disagrees with their execution, put right from the execution.

The failure handler records a failed run from the execution's status-change
event.  When that handler fails for good (AWS retries an asynchronous invocation
twice, then hands the event to its on-failure destination), the execution has
ended but the run still says RUNNING or WRITING; a redrive marks a run RUNNING
too, which nothing may write again if only a notification was left to send.
Reading a run (``GET /runs/{id}``, a listing, its history, a redrive, ``etl run``'s
report) reconciles it: an ended execution wins over the record.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib import run_record as r
from chalicelib.failures import record_failure
from chalicelib.run_record import RunItem
from chalicelib.services import Services
from chalicelib.storage.executions import ENDED_UNSUCCESSFULLY

REDRIVE_GRACE_SECONDS = 300  # a redrive begun this long after the execution stopped is still on its way


def reconciled(services: Services, item: RunItem) -> RunItem:
    """``item``, or the run as recorded once it agrees with its ended execution.

    A failed execution's failure is recorded and alerted as the failure handler
    would have; a succeeded one's outcome (SUCCEEDED, or SUPERSEDED when a newer
    version of the key published first) is taken from its output.  A run in a
    terminal status, whose execution is still running, or whose redrive began
    after the execution stopped (and recently: the redrive is on its way), is
    returned as it is.
    """
    if item.get(r.STATUS) in r.TERMINAL_STATUSES or not item.get(r.EXECUTION_ARN):
        return item
    execution = services.executions.describe(item[r.EXECUTION_ARN])
    if execution is None or execution["status"] == "RUNNING" or _redrive_on_its_way(item, execution):
        return item
    if execution["status"] == "SUCCEEDED":
        publication = json.loads(execution.get("output") or "{}").get("publication") or {}
        superseded = bool(publication.get("superseded"))
        services.runs.mark_ended(item[r.RUN_ID], execution_arn=execution["executionArn"],
                                 status=r.SUPERSEDED if superseded else r.SUCCEEDED, reason=publication.get("reason"))
    elif execution["status"] in ENDED_UNSUCCESSFULLY:
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


def _redrive_on_its_way(item: RunItem, execution: dict[str, Any]) -> bool:
    """The run's redrive began after its execution stopped, and so recently that Step Functions may not have resumed it yet."""
    began, stopped = item.get(r.REDRIVEN_AT), execution.get("stopDate")
    if not began or stopped is None:
        return False
    began_at = datetime.fromisoformat(began)
    return began_at >= stopped and (datetime.now(UTC) - began_at).total_seconds() < REDRIVE_GRACE_SECONDS
