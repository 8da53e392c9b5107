from __future__ import annotations

import dataclasses
import json

from chalicelib.failures import record_failure
from chalicelib.identity import run_id_for
from chalicelib.storage.executions import ExecutionStore
from tests.conftest import load_event, put_raw
from tests.seed import put_run
from tests.unit.test_history import event, retried_then_failed

EXECUTION = load_event("execution_failed.json")["detail"]["executionArn"]


class FakeStepFunctions:
    """Serves one execution history, as the paginated GetExecutionHistory would."""

    def __init__(self, events: list[dict], status: str = "FAILED") -> None:
        self.events = events
        self.status = status

    def describe_execution(self, executionArn: str) -> dict:
        return {"executionArn": executionArn, "status": self.status}

    def get_paginator(self, name: str):
        assert name == "get_execution_history"
        events = self.events

        class Paginator:
            def paginate(self, **kwargs):
                assert kwargs["executionArn"] == EXECUTION
                return [{"events": events[:5]}, {"events": events[5:]}]

        return Paginator()


def with_history(services, events, status: str = "FAILED"):
    return dataclasses.replace(services, executions=ExecutionStore(FakeStepFunctions(events, status), ""))


def ingest_exit(run_id: str) -> dict:
    e = event(99, "TaskStateExited", 0, 0)
    e["stateExitedEventDetails"] = {"name": "Ingest", "output": json.dumps({"run": {"run_id": run_id}})}
    return e


def failed_event(world, **detail) -> dict:
    """The fixture event, as sent for an execution of the local state machine."""
    event_ = load_event("execution_failed.json")
    event_["detail"].update(stateMachineArn=world.state_machine_arn, **detail)
    return event_


def alerts(world) -> list[dict]:
    messages = world.client("sqs").receive_message(QueueUrl=world.inbox_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


def test_failure_is_recorded_on_the_run_and_alerted(world, services):
    put_run(services, "run-1", status="RUNNING", execution_arn=EXECUTION)
    result = record_failure(failed_event(world), with_history(services, [ingest_exit("run-1")] + retried_then_failed()))
    assert result == {"action": "recorded", "run_id": "run-1", "failed_state": "Transform", "error": "RuntimeError"}
    item = services.runs.get("run-1")
    assert (item["status"], item["failed_state"], item["error"]) == ("FAILED", "Transform", "RuntimeError")
    assert json.loads(item["cause"]) == {"errorType": "RuntimeError", "errorMessage": "boom"}
    [alert] = alerts(world)
    assert alert["message"] == "boom" and alert["failed_state"] == "Transform" and "redrive" in alert["redrive"]


def test_rejected_runs_are_left_alone(world, services):
    assert record_failure(failed_event(world, error="DataRejected"), with_history(services, []))["action"] == "ignored"
    assert alerts(world) == []


def test_a_run_owned_by_another_execution_is_not_overwritten(world, services):
    put_run(services, "run-1", status="SUCCEEDED", execution_arn="arn:other")
    result = record_failure(failed_event(world), with_history(services, [ingest_exit("run-1")] + retried_then_failed()))
    assert result["action"] == "alerted" and services.runs.get("run-1")["status"] == "SUCCEEDED"


def test_when_ingest_itself_failed_the_run_id_comes_from_the_input(world, services):
    source = put_raw(world, "raw/transactions/t.jsonl", b"{}\n")
    result = record_failure(failed_event(world, input=json.dumps(source)), with_history(services, retried_then_failed()))
    assert result["run_id"] == run_id_for(source["bucket"], source["key"], source["version"])
    assert services.runs.get(result["run_id"])["status"] == "FAILED"


def test_a_run_that_failed_at_ingest_says_what_it_read_and_is_listed_by_dataset(world, services):
    # GIVEN an execution that failed in Ingest, before ingest recorded the run
    source = put_raw(world, "raw/transactions/t.jsonl", b"{}\n")
    # WHEN the failure is recorded
    result = record_failure(failed_event(world, input=json.dumps(source)), with_history(services, retried_then_failed()))
    # THEN the run names its dataset and source, and the dataset's listing shows it
    item = services.runs.get(result["run_id"])
    assert (item["dataset"], item["source_bucket"], item["source_key"], item["source_version"]) == (
        "transactions", source["bucket"], source["key"], source["version"])
    assert [run["run_id"] for run in services.runs.list(dataset="transactions").runs] == [result["run_id"]]


def test_when_the_object_is_gone_the_alert_still_goes_out(world, services):
    result = record_failure(failed_event(world), with_history(services, retried_then_failed()))
    assert result["run_id"] is None and result["action"] == "alerted"
    assert alerts(world)[0]["run_id"] is None


def test_a_late_event_about_an_execution_redriven_since_changes_nothing(world, services):
    # GIVEN a run that failed, was redriven and succeeded; the first failure's event arrives again (late, or twice)
    put_run(services, "run-1", status="SUCCEEDED", execution_arn=EXECUTION)
    result = record_failure(failed_event(world), with_history(services, [ingest_exit("run-1")] + retried_then_failed(), "SUCCEEDED"))
    # THEN the run keeps its outcome and nobody is alerted
    assert result["action"] == "ignored" and "redriven since" in result["reason"]
    assert services.runs.get("run-1")["status"] == "SUCCEEDED" and alerts(world) == []


def test_a_failed_notification_does_not_undo_the_recorded_outcome(world, services):
    # GIVEN a run the state machine recorded as SUCCEEDED, whose NotifySuccess then failed for good
    put_run(services, "run-1", status="SUCCEEDED", execution_arn=EXECUTION)
    result = record_failure(failed_event(world), with_history(services, [ingest_exit("run-1")] + retried_then_failed()))
    # THEN the outcome stands and the failure is alerted
    assert result["action"] == "alerted" and services.runs.get("run-1")["status"] == "SUCCEEDED"
    assert len(alerts(world)) == 1
