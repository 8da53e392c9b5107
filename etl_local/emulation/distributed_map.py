"""A Distributed Map on moto's interpreter that behaves as AWS's does.

moto runs a Distributed Map's children concurrently in threads, but (measured on
5.2.5, ``../shared/notes/local-aws.md``) a child that fails leaves the Map Run and
the execution SUCCEEDED with a null result, a child's history goes nowhere, and
nothing can redrive a Map Run.  A run built on that would report success with
chunks missing.  Here, as on AWS:

- each child is a child execution with its own history: ``ListExecutions``
  (``mapRunArn``), ``DescribeExecution`` and ``GetExecutionHistory`` answer for it;
- children that fail beyond the Map's tolerated failures (none by default) fail
  the Map Run and the Map state with ``States.ExceedToleratedFailureThreshold``;
- when a redriven execution resumes at the Map, only the children that did not
  succeed run again, each redriven as AWS redrives a Standard child: same ARN,
  its history going on with ``ExecutionRedriven``, resumed at the state it failed
  in with the input that state was entered with; the others keep their results.
  (A redriven Map Run keeps its ARN on AWS; here it gets a new one, whose
  children are all the Map's, those kept and those redriven.)
"""
from __future__ import annotations

import contextlib
import datetime
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import (
    ExecutionFailedEventDetails,
    ExecutionStartedEventDetails,
    ExecutionSucceededEventDetails,
    HistoryEventType,
    MapRunFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.flow.start_at import StartAt
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
    DistributedIterationComponentEvalInput,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (
    DistributedItemProcessorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import Job, JobPool
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import DEFAULT_MAX_CONCURRENCY_VALUE
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext, EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError, ProgramStopped
from moto.stepfunctions.responses import StepFunctionResponse

from etl_local.emulation.redrive import ExecutionNotRedrivable, resume_point

THRESHOLD_ERROR = StatesErrorNameType.StatesExceedToleratedFailureThreshold


@dataclass
class ChildExecution:
    """One child workflow execution of a Map Run: one item of the Map."""

    arn: str
    name: str
    state_machine_arn: str
    map_run_arn: str
    index: int
    input: Any
    start_date: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(tz=datetime.UTC))
    status: str = "RUNNING"
    stop_date: datetime.datetime | None = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: EventManager = field(default_factory=EventManager)
    resume_input: Any = None  # set while it is being redriven: the input of the state it resumes at

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.history.get_event_history()

    def listed(self) -> dict[str, Any]:
        """What ``ListExecutions`` answers for it."""
        answer: dict[str, Any] = {"executionArn": self.arn, "stateMachineArn": self.state_machine_arn, "name": self.name,
                                  "status": self.status, "startDate": self.start_date, "mapRunArn": self.map_run_arn}
        if self.stop_date is not None:
            answer["stopDate"] = self.stop_date
        return answer

    def described(self) -> dict[str, Any]:
        """What ``DescribeExecution`` answers for it."""
        answer = {**self.listed(), "input": json.dumps(self.input)}
        if self.status == "SUCCEEDED":
            answer["output"] = json.dumps(self.output)
        if self.error is not None:
            answer.update(error=self.error, cause=self.cause or "")
        return answer


class MapRuns:
    """The children of every Distributed Map evaluated, by the execution and Map state they belong to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._maps: dict[tuple[str, str], dict[int, ChildExecution]] = {}  # (execution, Map state) -> index -> child
        self._runs: dict[str, tuple[str, str]] = {}  # Map Run ARN -> (execution, Map state)
        self._children: dict[str, ChildExecution] = {}  # child ARN -> child

    def begin(self, map_run_arn: str, execution_arn: str, state: str) -> dict[int, ChildExecution]:
        """The Map's children so far (from before a redrive); the Map Run is one of its runs from now on."""
        with self._lock:
            self._runs[map_run_arn] = (execution_arn, state)
            return dict(self._maps.setdefault((execution_arn, state), {}))

    def start_child(self, map_run_arn: str, map_state_machine_arn: str, index: int, item: Any) -> ChildExecution:
        """The child running ``item``: a new one, or the one being redriven for it."""
        with self._lock:
            earlier = self._maps[self._runs[map_run_arn]].get(index)
            if earlier is not None and earlier.resume_input is not None:
                earlier.map_run_arn, earlier.status, earlier.stop_date = map_run_arn, "RUNNING", None
                earlier.error = earlier.cause = None
                return earlier
        name = str(uuid.uuid4())
        arn = map_state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
        child = ChildExecution(arn, name, map_state_machine_arn, map_run_arn, index, item)
        with self._lock:
            self._maps[self._runs[map_run_arn]][index] = child
            self._children[arn] = child
        return child

    def child(self, arn: str) -> ChildExecution | None:
        return self._children.get(arn)

    def children_of_run(self, map_run_arn: str) -> list[ChildExecution]:
        with self._lock:
            key = self._runs.get(map_run_arn)
            return sorted(self._maps.get(key, {}).values(), key=lambda c: c.index) if key else []

    def clear(self) -> None:
        with self._lock:
            self._maps.clear()
            self._runs.clear()
            self._children.clear()


MAP_RUNS = MapRuns()


def _map_run(self: DistributedIterationComponent, env: Environment, eval_input: DistributedIterationComponentEvalInput) -> None:
    """Run the children that have not succeeded yet; fail the Map when more failed than it tolerates."""
    items: list[Any] = env.stack.pop()
    record = eval_input.map_run_record
    earlier = MAP_RUNS.begin(record.map_run_arn, record.execution_arn, eval_input.state_name)
    kept = {index: child for index, child in earlier.items() if child.status == "SUCCEEDED"}
    for counter in (record.item_counter, record.execution_counter):
        counter.total.count(len(kept))
        counter.succeeded.count(len(kept))
    todo = [(index, item) for index, item in enumerate(items) if index not in kept]
    program = self._get_iteration_program()
    pool = JobPool(job_program=program, job_inputs=[])
    pool._open_jobs[:] = [_job(self, program, index, item, earlier.get(index)) for index, item in reversed(todo)]
    pool._jobs_number = len(todo)  # set once, before any worker starts
    limit = record.max_concurrency
    for _ in range(len(todo) if limit == DEFAULT_MAX_CONCURRENCY_VALUE else min(limit, len(todo))):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=pool)
    if todo:
        pool.await_jobs()
    if (worker_error := pool.get_worker_exception()) is not None:
        raise worker_error
    children = {child.index: child for child in MAP_RUNS.children_of_run(record.map_run_arn)}
    failed = [index for index in range(len(items)) if children[index].status != "SUCCEEDED"]
    if _beyond_tolerance(len(failed), len(items), eval_input):
        first = children[failed[0]]
        raise FailureEventException(FailureEvent(
            env=env, error_name=StatesErrorName(typ=THRESHOLD_ERROR), event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(
                error=THRESHOLD_ERROR.to_name(),
                cause=f"The specified tolerated failure threshold was exceeded: {len(failed)} of {len(items)} items failed "
                      f"(the first, item {first.index}: {first.error})",
            )),
        ))
    env.stack.append([children[index].output for index in range(len(items))])


def _job(component: DistributedIterationComponent, program: Program, index: int, item: Any,
         earlier: ChildExecution | None) -> Job:
    """The job for one item: a new child, or (after a redrive) its failed child resumed at the state it failed in."""
    if earlier is None or earlier.status == "SUCCEEDED":
        return Job(job_index=index, job_program=program, job_input=item)
    try:
        state, state_input = resume_point({"States": component._states.states}, earlier.events)
    except ExecutionNotRedrivable:  # it failed before its first state: it starts again
        return Job(job_index=index, job_program=program, job_input=item)
    earlier.resume_input = state_input
    resumed = Program(query_language=component._query_language, start_at=StartAt(state), states=component._states,
                      timeout_seconds=None, comment=component._comment)
    return Job(job_index=index, job_program=resumed, job_input=item)


def _beyond_tolerance(failed: int, total: int, eval_input: DistributedIterationComponentEvalInput) -> bool:
    if not failed:
        return False
    count, percentage = eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage
    return failed > (count or 0) and 100.0 * failed / total > (percentage or 0.0)


def _eval_job(original: Any) -> Any:
    def eval_job(self: DistributedItemProcessorWorker, env: Environment, job: Job) -> None:
        record = self._map_run_record
        child = MAP_RUNS.start_child(record.map_run_arn, record.map_state_machine_arn, job.job_index, job.job_input)
        history = child.history  # a child execution has a history of its own, from its start to its end
        env.event_manager = history
        select_input = self._eval_input

        def started(env_frame: Environment) -> None:  # its input is the item as the ItemSelector made it
            if child.resume_input is None:
                select_input(env_frame=env_frame)
                child.input = env_frame.states.get_input()
                history.add_event(context=env.event_history_context, event_type=HistoryEventType.ExecutionStarted,
                                  event_details=EventDetails(executionStartedEventDetails=ExecutionStartedEventDetails(
                                      input=json.dumps(child.input))))
                return
            env_frame.states.reset(input_value=child.resume_input)  # redriven: the failed state's own input
            env.event_history_context = EventHistoryContext(previous_event_id=max(e["id"] for e in child.events))
            history.add_event(context=env.event_history_context, event_type=HistoryEventType.ExecutionRedriven)
            child.resume_input = None

        self._eval_input = started  # this worker runs one job at a time
        try:
            original(self, env, job)
        finally:
            del self._eval_input
        state = env.program_state()
        child.stop_date = datetime.datetime.now(tz=datetime.UTC)
        if isinstance(state, ProgramError) or (not isinstance(state, ProgramEnded | ProgramStopped) and job.job_output is None):
            details = state.error if isinstance(state, ProgramError) and state.error else {}
            child.status, child.error, child.cause = "FAILED", details.get("error", "States.TaskFailed"), details.get("cause")
            history.add_event(context=env.event_history_context, event_type=HistoryEventType.ExecutionFailed,
                              event_details=EventDetails(executionFailedEventDetails=ExecutionFailedEventDetails(
                                  error=child.error, cause=child.cause or "")))
        elif isinstance(state, ProgramStopped):
            child.status = "ABORTED"
            history.add_event(context=env.event_history_context, event_type=HistoryEventType.ExecutionAborted)
        else:
            child.status, child.output = "SUCCEEDED", job.job_output
            history.add_event(context=env.event_history_context, event_type=HistoryEventType.ExecutionSucceeded,
                              event_details=EventDetails(executionSucceededEventDetails=ExecutionSucceededEventDetails(
                                  output=json.dumps(job.job_output))))
    return eval_job


def _list_executions(original: Any) -> Any:
    def list_executions(self: StepFunctionResponse) -> ActionResult:
        map_run_arn = self._get_param("mapRunArn")
        if not map_run_arn:
            return original(self)
        status = self._get_param("statusFilter")
        children = [c for c in MAP_RUNS.children_of_run(map_run_arn) if status in (None, c.status)]
        return ActionResult({"executions": [child.listed() for child in children]})
    return list_executions


def _describe_execution(original: Any) -> Any:
    def describe_execution(self: StepFunctionResponse) -> ActionResult:
        child = MAP_RUNS.child(self._get_param("executionArn"))
        return original(self) if child is None else ActionResult(child.described())
    return describe_execution


def _get_execution_history(original: Any) -> Any:
    def get_execution_history(self: StepFunctionResponse) -> ActionResult:
        child = MAP_RUNS.child(self._get_param("executionArn"))
        return original(self) if child is None else ActionResult({"events": child.events})
    return get_execution_history


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Distributed Maps fail, record and redrive their children as on AWS (see the module's docstring)."""
    worker = DistributedItemProcessorWorker
    with mock.patch.object(DistributedIterationComponent, "_map_run", _map_run), \
            mock.patch.object(worker, "_eval_job", _eval_job(worker._eval_job)), \
            mock.patch.object(StepFunctionResponse, "list_executions", _list_executions(StepFunctionResponse.list_executions)), \
            mock.patch.object(StepFunctionResponse, "describe_execution",
                              _describe_execution(StepFunctionResponse.describe_execution)), \
            mock.patch.object(StepFunctionResponse, "get_execution_history",
                              _get_execution_history(StepFunctionResponse.get_execution_history)):
        try:
            yield
        finally:
            MAP_RUNS.clear()
