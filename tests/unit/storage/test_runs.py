"""The run store's transitions on a plain moto DynamoDB table (no state machine, no functions)."""
from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib import run_record as r
from chalicelib.payloads import RunRef
from chalicelib.storage.runs import InvalidPageTokenError, RunStore, table_definition

TABLE = "runs"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:etl:run-1"


@pytest.fixture
def store() -> Iterator[RunStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**table_definition(TABLE))
        yield RunStore(client, TABLE)


def run_ref(run_id: str = "run-1", execution: str = EXECUTION, dataset: str = "transactions",
            started_at: str = "2024-03-15T08:00:00+00:00") -> RunRef:
    return RunRef(run_id=run_id, execution_id=execution, dataset=dataset, started_at=started_at,
                  staging_prefix=f"staging/{run_id}/",
                  source={"bucket": "raw", "key": "raw/transactions/t.jsonl", "version": "v1", "etag": "e", "size": 10})


def test_a_claim_records_the_run_once_per_execution(store):
    # GIVEN a run claimed by its execution
    assert store.claim(run_ref(), replay_of="older-run")
    item = store.get("run-1")
    assert (item["status"], item["dataset"], item["source_key"], item["source_version"]) == (
        "RUNNING", "transactions", "raw/transactions/t.jsonl", "v1")
    assert item["replay_of"] == "older-run" and item["kind"] == r.RUN_KIND
    assert item["started_at"] == "2024-03-15T08:00:00.000Z" and item["expires_at"] == r.expiry_for("2024-03-15T08:00:00+00:00")
    # WHEN the same execution claims again (a retried ingest) and another one tries (a duplicate event)
    # THEN the first is allowed and the second is refused
    assert store.claim(run_ref())
    assert not store.claim(run_ref(execution="arn:other"))
    assert store.get("run-1")["execution_arn"] == EXECUTION


def test_a_claim_after_a_redrive_keeps_the_redrive_count(store):
    # GIVEN a run that failed and was redriven (the redrive resumes at Ingest)
    store.claim(run_ref())
    store.mark_failed("run-1", execution_arn=EXECUTION, started_at="2024-03-15T08:00:00+00:00", failed_state="Ingest",
                      error="RuntimeError", cause="boom")
    assert store.begin_redrive(store.get("run-1"))
    # WHEN ingest claims the run again
    assert store.claim(run_ref())
    # THEN the redrive is still counted
    assert store.get("run-1")["redrive_count"] == 1


def test_validation_counts_are_written_by_the_owner_only(store):
    store.claim(run_ref())
    assert store.record_validation(run_ref(), records_in=3, records_valid=2, records_invalid=1, quarantine="s3://p/q.jsonl")
    assert not store.record_validation(run_ref(execution="arn:other"), records_in=9, records_valid=9, records_invalid=0,
                                       quarantine=None)
    item = store.get("run-1")
    assert (item["records_in"], item["records_valid"], item["records_invalid"], item["quarantine"]) == (3, 2, 1, "s3://p/q.jsonl")


def test_a_failure_is_recorded_unless_another_execution_owns_the_run(store):
    store.claim(run_ref())
    assert store.mark_failed("run-1", execution_arn=EXECUTION, started_at="2024-03-15T08:00:00+00:00",
                             failed_state="Transform", error="KeyError", cause="x" * 5000)
    item = store.get("run-1")
    assert (item["status"], item["failed_state"], item["error"]) == ("FAILED", "Transform", "KeyError")
    assert len(item["cause"]) == r.MAX_CAUSE_CHARS and item["finished_at"]
    assert not store.mark_failed("run-1", execution_arn="arn:other", started_at="2024-03-15T08:00:00+00:00",
                                 failed_state="Output", error="E", cause="")


def test_a_failure_before_the_claim_creates_a_listed_run_without_overwriting_what_ingest_knew(store):
    # GIVEN no run yet: the execution failed before ingest claimed it
    assert store.mark_failed("run-2", execution_arn=EXECUTION, started_at="2024-03-15T09:00:00+00:00", failed_state="Ingest",
                             error="RuntimeError", cause="", dataset="transactions",
                             source={"bucket": "raw", "key": "raw/transactions/u.jsonl", "version": None})
    # THEN it is listed, by dataset too, with what the input said
    assert [run["run_id"] for run in store.list(dataset="transactions").runs] == ["run-2"]
    item = store.get("run-2")
    assert (item["source_key"], item.get("source_version")) == ("raw/transactions/u.jsonl", None)
    # AND a failure of a claimed run keeps the claimed dataset and source
    store.claim(run_ref())
    store.mark_failed("run-1", execution_arn=EXECUTION, started_at="2024-03-15T08:00:00+00:00", failed_state="Output",
                      error="E", cause="", dataset="other", source={"bucket": "b", "key": "k", "version": "x"})
    item = store.get("run-1")
    assert (item["dataset"], item["source_key"], item["source_version"]) == ("transactions", "raw/transactions/t.jsonl", "v1")


def test_a_redrive_begins_only_on_a_failed_run_and_is_undone_exactly(store):
    store.claim(run_ref())
    assert not store.begin_redrive(store.get("run-1"))  # RUNNING: not redrivable
    store.mark_failed("run-1", execution_arn=EXECUTION, started_at="2024-03-15T08:00:00+00:00", failed_state="Transform",
                      error="KeyError", cause="c")
    failed = store.get("run-1")
    # WHEN a redrive begins
    assert store.begin_redrive(failed)
    running = store.get("run-1")
    assert running["status"] == "RUNNING" and running["redrive_count"] == 1 and running["redriven_at"]
    assert not {"failed_state", "error", "cause", "finished_at"} & running.keys()
    # WHEN it could not start and is undone
    assert store.undo_redrive(failed)
    restored = store.get("run-1")
    assert {k: restored[k] for k in ("status", "failed_state", "error", "cause", "finished_at", "redrive_count")} == {
        "status": "FAILED", "failed_state": "Transform", "error": "KeyError", "cause": "c",
        "finished_at": failed["finished_at"], "redrive_count": 0}


def test_listing_is_newest_first_with_filters_and_tokens_tied_to_them(store):
    for i, (dataset, hour) in enumerate([("transactions", 8), ("metrics", 9), ("transactions", 10)]):
        store.claim(run_ref(run_id=f"run-{i}", execution=f"arn:{i}", dataset=dataset, started_at=f"2024-03-15T{hour:02}:00:00+00:00"))
    assert [run["run_id"] for run in store.list().runs] == ["run-2", "run-1", "run-0"]
    assert [run["run_id"] for run in store.list(dataset="transactions").runs] == ["run-2", "run-0"]
    assert [run["run_id"] for run in store.list(since="2024-03-15T09:00:00.000Z").runs] == ["run-2", "run-1"]
    first = store.list(status="RUNNING", dataset="transactions", limit=1)
    assert [run["run_id"] for run in first.runs] == ["run-2"] and first.next_token
    second = store.list(status="RUNNING", dataset="transactions", limit=1, next_token=first.next_token)
    assert [run["run_id"] for run in second.runs] == ["run-0"]
    with pytest.raises(InvalidPageTokenError, match="other filters"):
        store.list(status="RUNNING", limit=1, next_token=first.next_token)
    with pytest.raises(InvalidPageTokenError):
        store.list(next_token="bm9wZQ")
