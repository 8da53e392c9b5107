"""Every path of statemachines/etl.asl.json, executed on moto with the real functions."""
from __future__ import annotations

import contextlib
import json

import pytest

from chalicelib.steps import CHUNKS_STATE
from etl_local.emulation.faults import Fault
from etl_local.emulation.world import LocalAws
from etl_local.runner import run_file
from tests.conftest import SAMPLES, chunk_visit

TRANSACTIONS = SAMPLES / "transactions.jsonl"


def dead_letters(world: LocalAws) -> list[dict]:
    messages = world.client("sqs").receive_message(QueueUrl=world.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def processed_objects(world: LocalAws) -> list[str]:
    listing = world.client("s3").list_objects_v2(Bucket=world.names.processed_bucket, Prefix="processed/")
    return [o["Key"] for o in listing.get("Contents", [])]


def state_names(report) -> list[str]:
    return [s["name"] for s in report.states]


def visit(report, name: str) -> dict:
    return next(s for s in report.states if s["name"] == name)


@pytest.fixture
def execute(tmp_path, registry):
    """Run one file through a fresh local AWS, optionally with injected faults."""
    with contextlib.ExitStack() as stack:

        def _execute(path, faults=(), dataset=None):
            world = stack.enter_context(LocalAws(faults=[Fault.parse(f) for f in faults]))
            return world, run_file(world, path, dataset, tmp_path, registry)

        yield _execute


def test_success_writes_parquet_records_the_run_and_notifies(execute):
    world, report = execute(TRANSACTIONS)
    assert report.status == "SUCCEEDED"
    names = state_names(report)
    assert names[:6] == ["Ingest", "IngestOutcome", CHUNKS_STATE, "Verdict", "ValidationOutcome", "WriteOutputs"]
    assert set(names[6:8]) == {"Output", "RecordTransform"}  # parallel branches, in either order
    assert names[8:] == ["PublicationOutcome", "RecordSuccess", "NotifySuccess", "Succeeded"]
    # AND the one chunk of this small file went through validate and transform in a child execution of the Map
    [chunk] = visit(report, CHUNKS_STATE)["chunks"]
    assert (chunk["index"], chunk["status"], [s["name"] for s in chunk["states"]]) == (0, "SUCCEEDED", ["Validate", "Transform"])
    assert report.chunks == 1
    assert report.records_in == report.records_valid == report.records_written == 24
    assert report.records_invalid == 0 and report.quarantine is None and report.dlq_messages == 0
    assert sorted(processed_objects(world)) == sorted(
        "processed/transactions/" + p.split("/processed/transactions/")[1] for p in report.outputs)
    assert report.alerts == [f"ETL run SUCCEEDED: {report.run_id}"]
    assert dead_letters(world) == []


def test_partial_quarantine_sends_a_dead_letter_and_writes_the_rest(execute):
    world, report = execute(SAMPLES / "transactions_with_errors.csv")
    assert report.status == "SUCCEEDED"
    assert (report.records_in, report.records_valid, report.records_invalid, report.records_written) == (30, 28, 2, 28)
    assert "SendQuarantineToDLQ" in state_names(report)
    [message] = dead_letters(world)
    assert message["kind"] == "QUARANTINED" and message["run_id"] == report.run_id
    assert (message["records_in"], message["records_valid"], message["records_invalid"]) == (30, 28, 2)
    assert message["quarantine"].endswith(f"quarantine/transactions/{report.run_id}.jsonl")
    assert [r["rule"] for r in message["reasons"]] == ["minimum", "pattern"]
    assert report.dlq_messages == 1
    quarantined = [json.loads(line) for line in open(report.quarantine)]
    assert [q["line"] for q in quarantined] == [12, 22]  # records with quoted newlines shift the lines


def test_rejection_goes_to_the_dead_letter_queue_and_writes_nothing(execute):
    world, report = execute(SAMPLES / "rejected" / "transactions_mostly_invalid.jsonl")
    assert report.status == "REJECTED"
    assert state_names(report)[-4:] == ["SendRejectionToDLQ", "RecordRejection", "NotifyRejection", "Rejected"]
    assert report.reason.startswith("8 of 11 records are invalid (72.7%)")
    assert processed_objects(world) == []
    [message] = dead_letters(world)
    assert message["kind"] == "REJECTED" and message["reason"] == report.reason and len(message["reasons"]) == 5
    execution = world.client("stepfunctions").describe_execution(executionArn=report.execution_arn)
    assert (execution["status"], execution["error"], execution["cause"]) == ("FAILED", "DataRejected", report.reason)
    # the failure handler leaves a rejected run as it is: REJECTED, announced once
    assert report.error is None and report.alerts == [f"ETL run REJECTED: {report.run_id}"]
    assert all(s["attempts"] <= 1 for s in report.states)  # data errors are never retried


def test_unusable_file_is_rejected_by_ingest(execute, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("a\n1\n")
    world, report = execute(path, dataset="orders")
    assert report.status == "REJECTED" and "unknown dataset 'orders'" in report.reason
    assert state_names(report)[:2] == ["Ingest", "IngestOutcome"] and CHUNKS_STATE not in state_names(report)
    assert dead_letters(world)[0]["records_in"] == 0


def test_transient_fault_is_retried_with_backoff_then_succeeds(execute):
    world, report = execute(TRANSACTIONS, faults=["transform:TransientError:2"])
    assert report.status == "SUCCEEDED"
    transform = chunk_visit(report.states, "Transform")
    assert transform["attempts"] == 3
    assert transform["retry_waits_seconds"] == pytest.approx([2, 4], abs=0.5)
    assert world.clock.waits == [2.0, 4.0]
    assert world.bridge.invocations.count(("transform", "TransientError")) == 2


def test_permanent_fault_fails_at_its_state_and_records_the_error(execute):
    world, report = execute(TRANSACTIONS, faults=["transform:RuntimeError:9"])
    assert report.status == "FAILED"
    assert state_names(report)[-1] == CHUNKS_STATE  # ends at the failed state, so redrive resumes there
    assert chunk_visit(report.states, "Transform")["attempts"] == 1  # RuntimeError is not a transient error
    # the Map fails as on AWS; the run says in which state of which chunk, and why
    assert (report.failed_state, report.error) == ("Transform", "RuntimeError")
    assert report.cause.startswith("chunk 0 of 1 failed: injected fault: RuntimeError in transform")
    assert report.alerts == [f"ETL run FAILED at Transform: {report.run_id}"]
    assert processed_objects(world) == []
    execution = world.client("stepfunctions").describe_execution(executionArn=report.execution_arn)
    assert execution["status"] == "FAILED" and execution["error"] == "States.ExceedToleratedFailureThreshold"


def test_transient_fault_that_persists_fails_after_three_retries(execute):
    _world, report = execute(TRANSACTIONS, faults=["validate:TransientError:9"])
    assert report.status == "FAILED" and report.failed_state == "Validate" and report.error == "TransientError"
    assert chunk_visit(report.states, "Validate")["retry_waits_seconds"] == pytest.approx([2, 4, 8], abs=0.5)


def test_lambda_throttling_is_waited_out_longer_than_a_transient_error_with_jittered_capped_waits(execute):
    # GIVEN Lambda refusing validate's invocations five times, as when chunks of several files outnumber its concurrency
    world, report = execute(TRANSACTIONS, faults=["validate:Lambda.TooManyRequestsException:5"])
    # THEN the chunk waits its turn (a TransientError gets three retries only) and the run succeeds
    assert report.status == "SUCCEEDED"
    validate = chunk_visit(report.states, "Validate")
    assert validate["attempts"] == 6
    # each wait drawn between 0 and its backoff (2, 4, 8, 16, 32 s), so throttled chunks do not return together
    assert all(0 <= wait <= cap + 0.5 for wait, cap in zip(validate["retry_waits_seconds"], [2, 4, 8, 16, 32], strict=True))
    # AND the function ran once: Lambda refused the others before it started
    assert world.bridge.invocations.count(("validate", "ok")) == 1


def test_output_failure_inside_the_parallel_names_the_output_state(execute):
    _world, report = execute(TRANSACTIONS, faults=["output:KeyError:9"])
    assert report.status == "FAILED" and report.failed_state == "Output" and report.error == "KeyError"


def test_duplicate_event_for_the_same_object_version_does_not_make_a_second_run(world):
    s3 = world.client("s3")
    version = s3.put_object(Bucket=world.names.raw_bucket, Key="raw/transactions/t.jsonl", Body=TRANSACTIONS.read_bytes())["VersionId"]
    execution_input = {"bucket": world.names.raw_bucket, "key": "raw/transactions/t.jsonl", "version": version}
    first = world.start_execution("first", execution_input)
    world.wait(first)
    second = world.start_execution("second", execution_input)  # e.g. S3 delivered the event twice
    assert world.wait(second)["status"] == "SUCCEEDED"
    events = world.client("stepfunctions").get_execution_history(executionArn=second)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert entered == ["Ingest", "IngestOutcome", "AlreadyProcessed"]
    runs = world.client("dynamodb").scan(TableName=world.names.runs_table)["Items"]
    assert len(runs) == 1 and runs[0]["execution_arn"]["S"] == first and runs[0]["status"]["S"] == "SUCCEEDED"


def test_only_references_travel_between_states(execute, tmp_path):
    # GIVEN a file 40x bigger than the sample, with quarantined records
    big = tmp_path / "transactions_big.jsonl"
    lines = TRANSACTIONS.read_text().splitlines() * 40 + ['{"transaction_id": "bad"}'] * 10
    big.write_text("\n".join(lines) + "\n")
    world, report = execute(big)
    assert report.status == "SUCCEEDED" and report.records_in == 970
    # THEN every state input and output stays small: references and counts, not records
    events = world.client("stepfunctions").get_execution_history(executionArn=report.execution_arn, maxResults=1000)["events"]
    sizes = [len(d.get("input") or d.get("output") or "") for e in events for k, d in e.items()
             if k in ("stateEnteredEventDetails", "stateExitedEventDetails")]
    assert max(sizes) < 4096
