"""``RedriveExecution`` for moto's Step Functions interpreter, which lacks it.

Semantics follow AWS: only a FAILED, TIMED_OUT or ABORTED execution can be
redriven; it keeps its ARN, name, input and start time; the history goes on
with an ``ExecutionRedriven`` event; execution resumes at the unsuccessful
top-level state with the input that state was entered with, and states that
succeeded are not rerun.  One difference: inside a Parallel state AWS reruns
only the failed branches, here the whole Parallel state runs again (the
pipeline's branches are idempotent).
"""
from __future__ import annotations

import contextlib
import datetime
import json
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import StepFunctionResponse

REDRIVABLE = {ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED}


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


def resume_point(definition: dict[str, Any], events: list[dict[str, Any]]) -> tuple[str, Any]:
    """The top-level state the execution stopped in, and the input it was entered with."""
    top_level = set(definition["States"])
    open_state: tuple[str, Any] | None = None
    for event in events:
        kind = str(event["type"].value if hasattr(event["type"], "value") else event["type"])
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            if details["name"] in top_level:
                open_state = (details["name"], json.loads(details.get("input") or "{}"))
        elif kind.endswith("StateExited") and open_state and event["stateExitedEventDetails"]["name"] == open_state[0]:
            open_state = None
    if open_state is None:
        raise ExecutionNotRedrivable("Execution has no unsuccessful state to redrive from")
    return open_state


class _RedriveWorker(ExecutionWorker):
    """Runs the rest of an execution in the environment of its earlier run."""

    def __init__(self, previous: ExecutionWorker, redrive_count: int) -> None:
        super().__init__(
            evaluation_details=previous._evaluation_details,
            exec_comm=previous._execution_communication,
            cloud_watch_logging_session=previous._cloud_watch_logging_session,
            activity_store=previous._activity_store,
        )
        definition = json.loads(previous._evaluation_details.state_machine_details.definition)
        history = previous.env.event_manager
        state, state_input = resume_point(definition, history.get_event_history())
        self._definition = json.dumps({**definition, "StartAt": state})
        self.env = self._get_evaluation_environment()
        self.env.event_manager = history  # the history goes on, with its event ids
        last_id = max((e["id"] for e in history.get_event_history()), default=0)
        self.env.event_history_context = EventHistoryContext(previous_event_id=last_id)
        self.env.states.reset(state_input)
        history.add_event(
            context=self.env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            event_details=EventDetails(executionRedrivenEventDetails={"redriveCount": redrive_count}),
        )

    def _get_evaluation_entrypoint(self):
        return AmazonStateLanguageParser.parse(self._definition)[0]

    def _execution_logic(self) -> None:
        self._get_evaluation_entrypoint().eval(self.env)
        self._execution_communication.terminated()

    def start(self) -> None:
        thread = threading.Thread(target=self._execution_logic, daemon=True)
        TMP_THREADS.append(thread)
        thread.start()


def redrive_execution(backend: StepFunctionsParserBackend, execution_arn: str) -> Execution:
    execution: Execution = backend.describe_execution(execution_arn)
    if execution.exec_status not in REDRIVABLE:
        raise ExecutionNotRedrivable(f"Execution is {execution.exec_status.value}; only FAILED, TIMED_OUT or ABORTED executions can be redriven")
    count = getattr(execution, "redrive_count", 0) + 1
    worker = _RedriveWorker(execution.exec_worker, count)
    execution.redrive_count = count
    execution.redrive_date = datetime.datetime.now(tz=datetime.UTC)
    execution.exec_worker = worker
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = execution.error = execution.cause = None
    worker.start()
    return execution


def _redrive_response(self: StepFunctionResponse) -> ActionResult:
    execution = redrive_execution(self.stepfunction_backend, self._get_param("executionArn"))
    return ActionResult({"redriveDate": execution.redrive_date})


def _describe_with_redrives(original):
    def describe_execution(self: StepFunctionResponse) -> ActionResult:
        result = original(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        if getattr(execution, "redrive_count", 0):
            result.result.update(redriveCount=execution.redrive_count, redriveDate=execution.redrive_date)
        return result

    return describe_execution


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Answer ``RedriveExecution`` (and report redrives in ``DescribeExecution``)."""
    with mock.patch.object(StepFunctionResponse, "redrive_execution", _redrive_response, create=True), \
            mock.patch.object(StepFunctionResponse, "describe_execution", _describe_with_redrives(StepFunctionResponse.describe_execution)):
        yield
