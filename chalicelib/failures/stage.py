"""Reacting to "Step Functions Execution Status Change" events.

No Catch in the state machine routes failures here: an execution fails at the
state that failed, so a console redrive resumes there.  An EventBridge rule on
FAILED / TIMED_OUT / ABORTED invokes this handler instead.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.errors import DataError
from chalicelib.history import attach_children, chunk_failure, error_message, execution_failure, failed_state, timeline
from chalicelib.identity import RequestedSource, dataset_from_key, requested_source, run_id_of
from chalicelib.services import Services
from chalicelib.steps import INGEST
from chalicelib.storage.executions import ENDED_UNSUCCESSFULLY
from chalicelib.times import utc_timestamp

# The events the deployment's failure rule (infra/delivery.py) sends to on_execution_failed.  The rule
# names this state machine; record_failure still ignores other machines' events when STATE_MACHINE_ARN
# is set, as a rule shared by several machines would send them.
FAILED_EXECUTIONS_PATTERN = {
    "source": ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    "detail": {"status": list(ENDED_UNSUCCESSFULLY)},
}
REJECTED_ERROR = "DataRejected"  # the Fail state of a rejected run; already recorded and announced


def record_failure(event: dict[str, Any], services: Services) -> dict[str, Any]:
    """Record the failure on the run (status FAILED, failed state, error, cause) and alert.

    Returns
    -------
    dict
        What was done: the run id, the failed state, and whether the run record
        was updated (a run that another execution owns is left alone).
    """
    detail = event["detail"]
    execution_arn = detail["executionArn"]
    expected_machine = services.settings.state_machine_arn
    if expected_machine and detail.get("stateMachineArn") != expected_machine:
        return {"action": "ignored", "reason": f"not an execution of {expected_machine}"}
    # Events arrive late (an asynchronous invocation is retried minutes later) and more than once: one about
    # an execution that a redrive has resumed since says nothing about the run any more.
    current = services.executions.describe(execution_arn)
    if current is not None and current["status"] not in ENDED_UNSUCCESSFULLY:
        return {"action": "ignored", "reason": f"the execution is {current['status']} now (redriven since)"}
    events = services.executions.history(execution_arn)
    ended_with = execution_failure(events)
    failed = failed_state(timeline(events), detail.get("error") or ended_with[0], detail.get("cause") or ended_with[1])
    error = detail.get("error") or (failed.error if failed else None) or detail["status"]
    cause = detail.get("cause") or (failed.cause if failed else None) or ""
    state_name = failed.name if failed else None
    if failed is not None and failed.map_runs:  # a chunk failed: the state it failed in, and why (its own history)
        attach_children([failed], services.executions, detailed=0)
        chunk = chunk_failure(failed)
        if chunk is not None:
            state_name, error, cause = chunk.state or state_name, chunk.error or error, chunk.cause
    if error == REJECTED_ERROR:
        return {"action": "ignored", "reason": "rejected runs are recorded and announced by the state machine"}
    requested = _requested(detail)
    run_id = _run_id(events, requested, services)
    updated = False
    if run_id is not None:
        updated = services.runs.mark_failed(
            run_id,
            execution_arn=execution_arn,
            started_at=utc_timestamp(datetime.fromtimestamp(detail["startDate"] / 1000, UTC)),
            failed_state=state_name,
            error=error,
            cause=cause,
            # a run that failed before ingest recorded it must still say what it read
            dataset=(requested.dataset or dataset_from_key(requested.key)) if requested else None,
            source={"bucket": requested.bucket, "key": requested.key, "version": requested.version} if requested else None,
        )
    services.notifier.publish(
        f"ETL run FAILED at {state_name or 'start'}: {run_id or execution_arn.rsplit(':', 1)[-1]}",
        {
            "status": "FAILED",
            "execution_status": detail["status"],
            "run_id": run_id,
            "execution_arn": execution_arn,
            "failed_state": state_name,
            "error": error,
            "message": error_message(cause),
            "redrive": "fix the cause, then redrive the execution from the Step Functions console "
            "(or the API); it resumes at the failed state",
        },
    )
    return {"action": "recorded" if updated else "alerted", "run_id": run_id, "failed_state": state_name, "error": error}


def _requested(detail: dict[str, Any]) -> RequestedSource | None:
    """The object the execution was asked to read, from its input (``None`` when the input names none)."""
    try:
        return requested_source(json.loads(detail.get("input") or "{}"))
    except (ValueError, DataError):
        return None


def _run_id(events: list[dict[str, Any]], requested: RequestedSource | None, services: Services) -> str | None:
    """The run id from the Ingest state's output, else recomputed from the input."""
    for event in events:
        exited = event.get("stateExitedEventDetails")
        if exited and exited.get("name") == INGEST.state and exited.get("output"):
            return str(json.loads(exited["output"])["run"]["run_id"])
    if requested is None:
        return None
    try:
        source = services.objects.head(requested.bucket, requested.key, requested.version)
    except DataError:
        return None  # no object, no run: the alert still goes out
    return run_id_of(source, requested.replay)
