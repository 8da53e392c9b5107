"""A run's timeline, read from its Step Functions execution history.

Used by the failure handler (which state failed) and by the local CLI (which
states ran, with how many attempts and which retry waits).  Works on the
events ``GetExecutionHistory`` returns, on AWS and on moto alike.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.run_record import MAX_CAUSE_CHARS
from chalicelib.times import utc_timestamp

if TYPE_CHECKING:
    from chalicelib.storage.executions import ExecutionStore


@dataclass
class Attempt:
    """One invocation of a task; ``wait_before_seconds`` is the retry wait that preceded it."""

    started: datetime
    ended: datetime | None = None
    error: str | None = None
    cause: str | None = None
    wait_before_seconds: float | None = None


@dataclass
class StateVisit:
    """One entry into a state.

    Attributes
    ----------
    name, type
        The state's name and type (``Task``, ``Choice``, ``Parallel``, ...).
    attempts
        One per task invocation (retries included); empty for non-task states.
    error, cause
        The error the state ended with, if it failed.
    """

    name: str
    type: str
    entered: datetime
    exited: datetime | None = None
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None
    failed_at: int | None = None  # id of the event in which this state's own task last failed
    redriven: bool = False  # the execution was redriven after this visit: a later visit resumed its work
    map_runs: list[str] = field(default_factory=list)  # of a Distributed Map: the ARNs of its Map Runs
    chunks: list[ChildRun] | None = None  # of a Distributed Map: its child executions (see attach_children)

    @property
    def failed_itself(self) -> bool:
        """The error came from this state's own task, not from the execution ending."""
        return self.failed_at is not None

    @property
    def duration_seconds(self) -> float | None:
        return None if self.exited is None else (self.exited - self.entered).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "entered": utc_timestamp(self.entered),
            "exited": utc_timestamp(self.exited) if self.exited else None,
            "duration_seconds": self.duration_seconds,
            "attempts": len(self.attempts),
            "retry_waits_seconds": [a.wait_before_seconds for a in self.attempts[1:]],
            "error": self.error,
            "cause": self.cause,
        }
        if self.chunks is not None:
            shown["chunks"] = [chunk.to_dict() for chunk in self.chunks]
        return shown


@dataclass
class ChildRun:
    """One child workflow execution of a Distributed Map: one chunk's run through the Map's states.

    ``states`` is its timeline, when it was read (``None`` otherwise: see :func:`attach_children`).
    """

    execution_arn: str
    status: str
    started: datetime
    stopped: datetime | None = None
    index: int | None = None
    error: str | None = None
    cause: str | None = None
    states: list[StateVisit] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "execution_arn": self.execution_arn,
            "started": utc_timestamp(self.started),
            "stopped": utc_timestamp(self.stopped) if self.stopped else None,
            "error": self.error,
            "cause": self.cause,
            "states": None if self.states is None else [visit.to_dict() for visit in self.states],
        }


_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")
# Failures of work a state does itself; ParallelStateFailed and the like chain to
# whichever branch event came last, so they say nothing about which state failed.
_TASK_PREFIXES = ("Task", "LambdaFunction", "Activity")


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def timeline(events: list[dict[str, Any]]) -> list[StateVisit]:
    """State visits in the order they were entered."""
    visits: list[StateVisit] = []
    owner: dict[int, StateVisit | None] = {}
    for event in sorted(events, key=lambda e: e["id"]):
        kind: str = event["type"]
        visit = owner.get(event.get("previousEventId", 0))
        if kind.endswith("StateEntered"):
            visit = StateVisit(name=_details(event)["name"], type=kind[: -len("StateEntered")], entered=event["timestamp"])
            visits.append(visit)
        elif kind.endswith("StateExited"):
            # A Parallel state's exit follows its last branch's events: find the state by name.
            name = _details(event).get("name")
            visit = next((v for v in reversed(visits) if v.name == name and v.exited is None), visit)
        owner[event["id"]] = visit
        if kind == "MapRunStarted" and visit is not None:
            visit.map_runs.append(_details(event)["mapRunArn"])
        if kind == "ExecutionRedriven":
            for earlier in visits:
                earlier.redriven = earlier.redriven or earlier.exited is None
        if visit is None:
            continue
        details = _details(event)
        if kind.endswith("StateExited"):
            visit.exited = event["timestamp"]
        elif kind.endswith("Scheduled"):
            previous = visit.attempts[-1] if visit.attempts else None
            wait = None
            if previous is not None and previous.ended is not None:
                wait = round((event["timestamp"] - previous.ended).total_seconds(), 3)
            visit.attempts.append(Attempt(started=event["timestamp"], wait_before_seconds=wait))
        elif kind.startswith("Execution") and kind.endswith(_FAILURE_SUFFIXES):
            # Attributed to whichever event preceded it, which may be a sibling branch's:
            # only a fallback for states that fail without a task (Fail, runtime errors).
            if not visit.failed_itself:
                visit.error, visit.cause = details.get("error", kind), details.get("cause")
        elif kind.startswith(_TASK_PREFIXES) and kind.endswith(_FAILURE_SUFFIXES):
            visit.error, visit.cause = details.get("error", kind), details.get("cause")
            visit.failed_at = event["id"]
            if visit.attempts and visit.attempts[-1].ended is None:
                attempt = visit.attempts[-1]
                attempt.ended, attempt.error, attempt.cause = event["timestamp"], visit.error, visit.cause
        elif kind.endswith("Succeeded") and visit.attempts:
            visit.attempts[-1].ended = event["timestamp"]
    for visit in visits:
        if visit.exited is not None:
            visit.error = visit.cause = None  # a retried-then-successful state did not fail
    return visits


def child_run(summary: dict[str, Any], events: list[dict[str, Any]] | None) -> ChildRun:
    """A child execution from its ``ListExecutions`` entry and, when read, its history (which says its chunk)."""
    child = ChildRun(execution_arn=summary["executionArn"], status=summary["status"], started=summary["startDate"],
                     stopped=summary.get("stopDate"))
    if events is not None:
        child.states = timeline(events)
        child.error, child.cause = execution_failure(events)
        started = next((e for e in events if e["type"] == "ExecutionStarted"), None)
        if started is not None:
            item = json.loads(_details(started).get("input") or "{}")
            child.index = (item.get("chunk") or {}).get("index") if isinstance(item, dict) else None
    return child


DETAILED_CHUNKS = 20  # chunks whose timelines are read in full when a Map has no more; beyond, only the unsuccessful ones


def attach_children(visits: list[StateVisit], executions: ExecutionStore, detailed: int = DETAILED_CHUNKS) -> None:
    """Give the last visit of each Distributed Map its child executions, in chunk order.

    A redriven Map is visited again; its children (redriven ones included, their
    histories going on) are shown once, under the last visit.  When the Map has at
    most ``detailed`` children, each one's timeline is read (a history call each);
    beyond, every child is listed and only those that did not succeed are read in
    full, so a run of a thousand chunks costs a listing and the histories of its failures.
    """
    last_visit = {visit.name: visit for visit in visits if visit.map_runs}
    for visit in last_visit.values():
        runs = [arn for earlier in visits if earlier.name == visit.name for arn in earlier.map_runs]
        # a redriven Map Run keeps its ARN on AWS: a child listed by several runs is one child
        listed = {child["executionArn"]: child for run in dict.fromkeys(runs) for child in executions.children(run)}
        read_all = len(listed) <= detailed
        visit.chunks = sorted(
            (child_run(child, executions.history(arn) if read_all or child["status"] != "SUCCEEDED" else None)
             for arn, child in listed.items()),
            key=lambda child: (child.index is None, child.index or 0, child.started))


@dataclass(frozen=True)
class ChunkFailure:
    """Where a Distributed Map failed: the first chunk that did not succeed, the state it failed in, and why."""

    state: str | None
    error: str | None
    cause: str


def chunk_failure(visit: StateVisit) -> ChunkFailure | None:
    """The first failed chunk of a Distributed Map whose children were attached (``None`` when none failed)."""
    failed = [child for child in visit.chunks or [] if child.status != "SUCCEEDED"]
    if not failed:
        return None
    first = failed[0]
    inner = failed_state(first.states or [], first.error, first.cause)
    chunk = f"chunk {first.index}" if first.index is not None else "a chunk"
    return ChunkFailure(
        state=inner.name if inner else None, error=first.error,
        cause=f"{chunk} of {len(visit.chunks or [])} {first.status.lower()}: {error_message(first.cause or '')} "
              f"({len(failed)} did not succeed; a redrive reruns only those)",
    )


def error_message(cause: str) -> str:
    """Lambda failures carry a JSON cause; show its message."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:MAX_CAUSE_CHARS]
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])[:MAX_CAUSE_CHARS]
    return cause[:MAX_CAUSE_CHARS]


def execution_failure(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The error and cause the execution itself ended with (``None`` while it has not failed)."""
    for event in sorted(events, key=lambda e: e["id"], reverse=True):
        kind: str = event["type"]
        if kind.startswith("Execution") and kind.endswith(_FAILURE_SUFFIXES):
            details = _details(event)
            return details.get("error", kind), details.get("cause")
    return None, None


def failed_state(visits: list[StateVisit], error: str | None = None, cause: str | None = None) -> StateVisit | None:
    """The innermost state the execution failed in.

    Only visits since the last redrive count (an earlier failure was resumed).  Of
    the states that failed by themselves and never exited, the one whose error and
    cause are the execution's (``error``, ``cause``, when known): a Parallel sibling
    that was waiting out a retry when the branch failed has an error of its own.
    Among those, the one that failed first: a sibling branch's task stopped by that
    failure fails after it.  Failing that (a Fail state, a runtime error outside a
    task), the last one the execution's failure was attributed to.
    """
    unexited = [v for v in visits if v.exited is None and v.error is not None and not v.redriven]
    own = sorted((v for v in unexited if v.failed_itself), key=lambda v: v.failed_at or 0)
    matching = [v for v in own if (v.error, v.cause) == (error, cause)] if error is not None else []
    if matching or own:
        return (matching or own)[0]
    return unexited[-1] if unexited else None
