from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.history import execution_failure, failed_state, timeline

T0 = datetime(2024, 3, 15, 10, 0, tzinfo=UTC)


def event(id_: int, kind: str, previous: int, seconds: float, **details) -> dict:
    e = {"id": id_, "type": kind, "previousEventId": previous, "timestamp": T0 + timedelta(seconds=seconds)}
    if details:
        key = {"TaskStateEntered": "stateEnteredEventDetails", "TaskStateExited": "stateExitedEventDetails",
               "ParallelStateEntered": "stateEnteredEventDetails", "ParallelStateExited": "stateExitedEventDetails", "TaskFailed": "taskFailedEventDetails",
               "ExecutionFailed": "executionFailedEventDetails"}[kind]
        e[key] = details
    return e


def retried_then_failed() -> list[dict]:
    return [
        event(1, "ExecutionStarted", 0, 0),
        event(2, "TaskStateEntered", 1, 0, name="Transform"),
        event(3, "TaskScheduled", 2, 0),
        event(4, "TaskStarted", 3, 0),
        event(5, "TaskFailed", 4, 1, error="TransientError", cause="c1"),
        event(6, "TaskScheduled", 5, 3),
        event(7, "TaskStarted", 6, 3),
        event(8, "TaskFailed", 7, 4, error="TransientError", cause="c2"),
        event(9, "TaskScheduled", 8, 8),
        event(10, "TaskStarted", 9, 8),
        event(11, "TaskFailed", 10, 9, error="RuntimeError", cause="final"),
        event(12, "ExecutionFailed", 11, 9, error="RuntimeError", cause="final"),
    ]


def test_attempts_and_retry_waits_come_from_the_event_gaps():
    [visit] = timeline(retried_then_failed())
    assert visit.name == "Transform" and len(visit.attempts) == 3
    assert [a.wait_before_seconds for a in visit.attempts] == [None, 2.0, 4.0]
    assert [a.error for a in visit.attempts] == ["TransientError", "TransientError", "RuntimeError"]
    assert failed_state([visit]) is visit and (visit.error, visit.cause) == ("RuntimeError", "final")
    assert visit.to_dict()["retry_waits_seconds"] == [2.0, 4.0]


def test_a_state_that_recovered_has_no_error():
    events = retried_then_failed()[:9] + [
        event(10, "TaskStarted", 9, 8), event(11, "TaskSucceeded", 10, 9),
        event(12, "TaskStateExited", 11, 9, name="Transform"),
    ]
    [visit] = timeline(events)
    assert visit.error is None and visit.duration_seconds == 9.0 and failed_state([visit]) is None


def parallel_entered() -> list[dict]:
    """WriteOutputs entered and its Output branch (event 4) entered."""
    return [
        event(1, "ExecutionStarted", 0, 0),
        event(2, "ParallelStateEntered", 1, 0, name="WriteOutputs"),
        event(3, "ParallelStateStarted", 2, 0),
        event(4, "TaskStateEntered", 3, 0, name="Output"),
    ]


def test_failed_state_inside_a_parallel_is_the_inner_task():
    events = [
        *parallel_entered(),
        event(5, "TaskStateEntered", 3, 0, name="RecordTransform"),
        event(6, "TaskScheduled", 4, 0),
        event(7, "TaskFailed", 6, 1, error="KeyError", cause="k"),
        event(8, "TaskStateExited", 5, 1, name="RecordTransform"),
        event(9, "ExecutionFailed", 7, 1, error="KeyError", cause="k"),
    ]
    visits = timeline(events)
    assert [v.name for v in visits] == ["WriteOutputs", "Output", "RecordTransform"]
    assert failed_state(visits).name == "Output"


def test_execution_failure_attributed_to_a_cancelled_sibling_does_not_hide_the_failed_task():
    # the interpreter may chain ExecutionFailed to the other branch's last event
    events = [
        *parallel_entered(),
        event(5, "TaskScheduled", 4, 0),
        event(6, "TaskFailed", 5, 1, error="KeyError", cause="k"),
        event(7, "TaskStateEntered", 3, 1, name="RecordTransform"),
        event(8, "TaskScheduled", 7, 1),
        event(9, "TaskSucceeded", 8, 1),
        event(10, "ParallelStateFailed", 7, 1),
        event(11, "ExecutionFailed", 10, 1, error="KeyError", cause="k"),
    ]
    assert failed_state(timeline(events)).name == "Output"


def both_branches_scheduled() -> list[dict]:
    """WriteOutputs entered, Output (event 6) and RecordTransform (event 7) scheduled."""
    return [
        *parallel_entered(),
        event(5, "TaskStateEntered", 3, 0, name="RecordTransform"),
        event(6, "TaskScheduled", 4, 0),
        event(7, "TaskScheduled", 5, 0),
    ]


def test_a_sibling_task_stopped_by_the_failure_is_not_the_failed_state():
    # under load, the other branch's task is still running when Output fails, and fails too when stopped
    events = [
        *both_branches_scheduled(),
        event(8, "TaskFailed", 6, 1, error="KeyError", cause="k"),
        event(9, "TaskFailed", 7, 1, error="States.Runtime", cause="branch stopped"),
        event(10, "ExecutionFailed", 9, 1, error="KeyError", cause="k"),
    ]
    assert failed_state(timeline(events)).name == "Output"


def test_a_fail_state_is_the_failed_state():
    events = [event(1, "ExecutionStarted", 0, 0), event(2, "TaskStateEntered", 1, 0, name="Rejected"),
              event(3, "ExecutionFailed", 2, 0, error="DataRejected", cause="why")]
    events[1]["type"] = "FailStateEntered"
    visit = failed_state(timeline(events))
    assert (visit.name, visit.type, visit.error, visit.cause) == ("Rejected", "Fail", "DataRejected", "why")


def test_a_parallel_state_exits_after_its_branches():
    # GIVEN the history moto and AWS write: the Parallel's exit follows its last branch's exit
    events = [
        event(1, "ExecutionStarted", 0, 0),
        event(2, "ParallelStateEntered", 1, 0, name="WriteOutputs"),
        event(3, "TaskStateEntered", 2, 0, name="Output"),
        event(4, "TaskStateEntered", 2, 0, name="Record"),
        event(5, "TaskStateExited", 4, 1, name="Record"),
        event(6, "TaskStateExited", 3, 2, name="Output"),
        event(7, "ParallelStateExited", 6, 3, name="WriteOutputs"),
    ]
    # WHEN the timeline is built
    visits = {v.name: v for v in timeline(events)}
    # THEN each state exits at its own exit event
    assert visits["WriteOutputs"].duration_seconds == 3.0
    assert visits["Output"].duration_seconds == 2.0 and visits["Record"].duration_seconds == 1.0


def test_a_parallel_sibling_waiting_out_a_retry_is_not_the_failed_state():
    # GIVEN RecordTransform throttled once and waiting to retry when Output fails for good
    events = [
        *both_branches_scheduled(),
        event(8, "TaskFailed", 7, 0.5, error="States.TaskFailed", cause="throttled"),
        event(9, "TaskFailed", 6, 1, error="RuntimeError", cause="output broke"),
        event(10, "ExecutionFailed", 9, 1, error="RuntimeError", cause="output broke"),
    ]
    # WHEN the failed state is told from the history and the execution's own error
    visits = timeline(events)
    failed = failed_state(visits, *execution_failure(events))
    # THEN it is Output, with Output's error
    assert (failed.name, failed.error, failed.cause) == ("Output", "RuntimeError", "output broke")


def test_after_a_redrive_the_failed_state_is_the_one_that_failed_since():
    # GIVEN a run that failed at Transform, was redriven, then failed at Output
    events = [
        *retried_then_failed(),
        event(13, "ExecutionRedriven", 12, 20),
        event(14, "TaskStateEntered", 13, 20, name="Transform"),
        event(15, "TaskScheduled", 14, 20),
        event(16, "TaskSucceeded", 15, 21),
        event(17, "TaskStateExited", 16, 21, name="Transform"),
        event(18, "TaskStateEntered", 17, 21, name="Output"),
        event(19, "TaskScheduled", 18, 21),
        event(20, "TaskFailed", 19, 22, error="KeyError", cause="k"),
        event(21, "ExecutionFailed", 20, 22, error="KeyError", cause="k"),
    ]
    # WHEN the failed state is told
    failed = failed_state(timeline(events), *execution_failure(events))
    # THEN it is Output, not the Transform visit the redrive resumed
    assert (failed.name, failed.error) == ("Output", "KeyError")
    assert failed_state(timeline(events)).name == "Output"  # without the execution's error too
