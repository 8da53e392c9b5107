"""A run's timeline, read from its Step Functions execution history.

Used by the failure handler (which state failed) and by the local CLI (which
states ran, with how many attempts and which retry waits).  Works on the
events ``GetExecutionHistory`` returns, on AWS and on moto alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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

    @property
    def failed_itself(self) -> bool:
        """The error came from this state's own task, not from the execution ending."""
        return self.failed_at is not None

    @property
    def duration_seconds(self) -> float | None:
        return None if self.exited is None else (self.exited - self.entered).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "entered": self.entered.isoformat(),
            "exited": self.exited.isoformat() if self.exited else None,
            "duration_seconds": self.duration_seconds,
            "attempts": len(self.attempts),
            "retry_waits_seconds": [a.wait_before_seconds for a in self.attempts[1:]],
            "error": self.error,
            "cause": self.cause,
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
