"""The control plane's run operations on plain moto resources and an in-memory execution store."""
from __future__ import annotations

import json

import pytest

from chalicelib.control import runs
from chalicelib.control.errors import ConflictError, InvalidRequestError, NotFoundError
from chalicelib.errors import TransientError
from chalicelib.storage.executions import NotRedrivableError
from tests.conftest import put_raw
from tests.seed import put_run
from tests.unit.fakes import PlainAws, PlainNames

KEY = "raw/transactions/t.jsonl"
RAW = PlainNames().raw_bucket


def put_object(world: PlainAws) -> str:
    return str(put_raw(world, KEY, b'{"a": 1}\n')["version"])


def test_a_start_names_the_execution_after_the_run_and_finds_it_again(world, services):
    # GIVEN an object in the raw bucket
    version = put_object(world)
    # WHEN a run is started twice
    first = runs.start_run(services, KEY)
    second = runs.start_run(services, KEY)
    # THEN one execution, named after the run id, reads that version of the object
    assert first.created and not second.created and first.execution_arn == second.execution_arn
    assert first.execution_arn.endswith(f":{first.run_id}")
    assert json.loads(services.executions.executions[first.execution_arn]["input"]) == {  # type: ignore[attr-defined]
        "bucket": RAW, "key": KEY, "version": version, "dataset": "transactions"}
    assert first.run["status"] == "RUNNING" and first.run["source"]["key"] == KEY  # not recorded yet: the execution's view


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"bucket": "elsewhere"}, InvalidRequestError, f"raw bucket '{RAW}' only"),
    ({"dataset": "nosuch"}, InvalidRequestError, "unknown dataset 'nosuch'"),
    ({}, NotFoundError, "does not exist"),
])
def test_a_start_that_cannot_be_carried_out_says_why(services, kwargs, error, words):
    with pytest.raises(error, match=words):
        runs.start_run(services, KEY, **kwargs)


def test_a_key_outside_raw_needs_a_dataset(services):
    with pytest.raises(InvalidRequestError, match="cannot tell the dataset"):
        runs.start_run(services, "elsewhere/t.jsonl")


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"status": "DONE"}, "status='DONE' is not one of RUNNING, WRITING, SUCCEEDED, REJECTED, FAILED"),
    ({"limit": 0}, "limit must be between 1 and 100"),
    ({"since": "yesterday"}, "since='yesterday' is not an RFC 3339 time"),
    ({"dataset": "nosuch"}, "unknown dataset"),
])
def test_listing_arguments_are_checked(services, kwargs, words):
    with pytest.raises(InvalidRequestError, match=words):
        runs.list_runs(services, **kwargs)


def test_a_listing_shows_runs_as_the_api_does(services):
    put_run(services, "run-1", status="SUCCEEDED", dataset="transactions", records_in=3, records_written=3,
            started_at="2024-03-15T08:00:00+00:00", finished_at="2024-03-15T08:00:02.500+00:00")
    [run] = runs.list_runs(services, since="2024-03-15")["runs"]
    assert run["counts"]["in"] == 3 and run["started_at"] == "2024-03-15T08:00:00.000Z" and run["duration_seconds"] == 2.5


def test_only_failed_runs_are_redriven_and_rejected_ones_point_at_replay(services):
    put_run(services, "run-1", status="REJECTED", execution_arn="arn:x")
    with pytest.raises(ConflictError, match=r"only FAILED runs can be redriven .*replay"):
        runs.redrive_run(services, "run-1")
    with pytest.raises(NotFoundError):
        runs.redrive_run(services, "nope")


def test_a_redrive_marks_the_run_running_before_resuming_its_execution(services):
    arn = services.executions.start("run-1", {}).arn
    services.executions.executions[arn]["status"] = "FAILED"  # type: ignore[attr-defined]
    put_run(services, "run-1", status="FAILED", execution_arn=arn, failed_state="Transform", error="KeyError", cause="c",
            finished_at="2024-03-15T08:01:00.000Z")
    run = runs.redrive_run(services, "run-1")
    assert services.executions.redriven == [arn]  # type: ignore[attr-defined]
    assert (run["status"], run["redrive_count"], run["failed_state"], run["error"]) == ("RUNNING", 1, None, None)


@pytest.mark.parametrize(("refusal", "raised"), [
    (NotRedrivableError("too old"), ConflictError), (TransientError("throttled"), TransientError)])
def test_a_redrive_that_cannot_start_leaves_the_run_failed_as_it_was(services, refusal, raised):
    arn = services.executions.start("run-1", {}).arn
    services.executions.executions[arn]["status"] = "FAILED"  # type: ignore[attr-defined]
    put_run(services, "run-1", status="FAILED", execution_arn=arn, failed_state="Transform", error="KeyError", cause="c",
            finished_at="2024-03-15T08:01:00.000Z")
    services.executions.refuse_redrive = refusal  # type: ignore[attr-defined]
    with pytest.raises(raised):
        runs.redrive_run(services, "run-1")
    run = runs.describe_run(services, "run-1")
    assert (run["status"], run["failed_state"], run["error"], run["redrive_count"]) == ("FAILED", "Transform", "KeyError", 0)


def test_a_run_known_only_to_its_execution_is_shown_from_the_execution(world, services):
    put_object(world)
    started = runs.start_run(services, KEY)
    services.executions.executions[started.execution_arn]["status"] = "TIMED_OUT"  # type: ignore[attr-defined]
    run = runs.describe_run(services, started.run_id)
    assert run["status"] == "FAILED" and run["dataset"] == "transactions" and run["outputs"] == {"manifest": None, "files": []}
    with pytest.raises(NotFoundError):
        runs.describe_run(services, "nope")


def test_a_run_left_running_by_a_failed_notification_is_reconciled_from_its_succeeded_execution(world, services):
    from chalicelib.control.reconcile import reconciled

    arn = services.executions.start("run-1", {}).arn
    services.executions.executions[arn].update(  # type: ignore[attr-defined]
        status="SUCCEEDED", output=json.dumps({"publication": {"superseded": False, "reason": None}}))
    put_run(services, "run-1", status="RUNNING", execution_arn=arn, redrive_count=1)
    assert reconciled(services, services.runs.get("run-1"))["status"] == "SUCCEEDED"


def test_a_redrive_on_its_way_is_not_mistaken_for_a_stuck_run(world, services):
    from datetime import UTC, datetime, timedelta

    from chalicelib.control.reconcile import reconciled

    arn = services.executions.start("run-1", {}).arn
    services.executions.executions[arn].update(status="FAILED", stopDate=datetime.now(UTC) - timedelta(seconds=5))  # type: ignore[attr-defined]
    put_run(services, "run-1", status="RUNNING", execution_arn=arn, redriven_at=datetime.now(UTC).isoformat())
    assert reconciled(services, services.runs.get("run-1"))["status"] == "RUNNING"


def test_a_redrive_whose_answers_were_lost_still_resumes_and_keeps_the_run_running(world, services):
    # GIVEN a failed run whose begin-redrive write lands but whose answer is lost (botocore's retry is refused),
    # and whose RedriveExecution resumes the execution but answers with an error
    arn = services.executions.start("run-1", {}).arn
    services.executions.executions[arn]["status"] = "FAILED"  # type: ignore[attr-defined]
    put_run(services, "run-1", status="FAILED", execution_arn=arn, failed_state="Transform", error="KeyError", cause="c")
    real_begin = services.runs.begin_redrive

    def lost_answer(item):
        real_begin(item)
        return False

    class LostRedriveAnswer(NotRedrivableError):
        pass

    def redrive_then_lose_the_answer(execution_arn):
        services.executions.executions[execution_arn]["status"] = "RUNNING"  # type: ignore[attr-defined]
        raise LostRedriveAnswer("Execution is RUNNING")  # what the retried call answers

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services.runs, "begin_redrive", lost_answer)
        patch.setattr(services.executions, "redrive", redrive_then_lose_the_answer)
        run = runs.redrive_run(services, "run-1")
    # THEN the operator is told it is redriving, and the run says so
    assert (run["status"], run["redrive_count"]) == ("RUNNING", 1)
