"""A run's record agrees with its execution: failed state, redrives, a failure handler that fails (issue 13)."""
from __future__ import annotations

from etl_local.emulation.faults import Fault
from tests.functional.api_client import Api

KEY = "raw/transactions/t.jsonl"


def redrive(api: Api, run: dict) -> dict:
    response = api.call("POST", f"/runs/{run['run_id']}/redrive")
    assert response.status_code == 202, response.json_body
    api.world.wait(run["execution_arn"])
    return api.call("GET", f"/runs/{run['run_id']}").json_body


def test_a_failure_handler_that_fails_once_is_retried_as_aws_retries_asynchronous_invocations(api_factory):
    # GIVEN the failure handler's first invocation fails (e.g. its DynamoDB update throttled past retries)
    api = api_factory([Fault("transform", "RuntimeError", 9), Fault("on_execution_failed", "TransientError", 1)])
    # WHEN a run fails
    run = api.run(KEY)
    # THEN the handler's retry recorded it, and nothing was dropped
    assert (run["status"], run["failed_state"], run["error"]) == ("FAILED", "Transform", "RuntimeError")
    assert [outcome for step, outcome in api.world.bridge.invocations if step == "on_execution_failed"] == ["TransientError", "ok"]
    assert api.world.events.dropped == []


def test_a_run_whose_failure_handler_failed_for_good_is_reconciled_from_its_execution(api_factory):
    # GIVEN every attempt of the failure handler fails: the execution is FAILED, the record still RUNNING
    api = api_factory([Fault("transform", "RuntimeError", 1), Fault("on_execution_failed", "TransientError", 9)])
    api.put(KEY)
    started = api.call("POST", "/runs", {"key": KEY}).json_body
    api.world.wait(started["execution_arn"])
    assert [arn.rsplit(":", 1)[-1] for arn, _ in api.world.events.dropped] == [api.world.names.function("on_execution_failed")]
    # WHEN the run is read
    run = api.call("GET", f"/runs/{started['run_id']}").json_body
    # THEN it is FAILED at the state that failed, in the listing too, and can be redriven to success
    assert (run["status"], run["failed_state"], run["error"]) == ("FAILED", "Transform", "RuntimeError")
    assert [listed["status"] for listed in api.call("GET", "/runs").json_body["runs"]] == ["FAILED"]
    assert redrive(api, run)["status"] == "SUCCEEDED"


def test_a_stuck_record_is_listed_as_its_execution_ended(api_factory):
    api = api_factory([Fault("transform", "RuntimeError", 1), Fault("on_execution_failed", "TransientError", 9)])
    api.put(KEY)
    started = api.call("POST", "/runs", {"key": KEY}).json_body
    api.world.wait(started["execution_arn"])
    [listed] = api.call("GET", "/runs?dataset=transactions").json_body["runs"]
    assert (listed["run_id"], listed["status"], listed["failed_state"]) == (started["run_id"], "FAILED", "Transform")


def test_a_stuck_record_does_not_block_a_redrive(api_factory):
    api = api_factory([Fault("transform", "RuntimeError", 1), Fault("on_execution_failed", "TransientError", 9)])
    api.put(KEY)
    started = api.call("POST", "/runs", {"key": KEY}).json_body
    api.world.wait(started["execution_arn"])
    # the redrive itself reconciles: no 409 "only FAILED runs can be redriven"
    assert redrive(api, started)["status"] == "SUCCEEDED"


def test_after_a_redrive_a_new_failure_is_recorded_at_its_own_state(api_factory):
    # GIVEN a run that failed at Transform, then is redriven and fails at Output
    api = api_factory([Fault("transform", "RuntimeError", 1), Fault("output", "KeyError", 9)])
    failed = api.run(KEY)
    assert (failed["failed_state"], failed["error"]) == ("Transform", "RuntimeError")
    # WHEN it is redriven
    again = redrive(api, failed)
    # THEN the record (and its alert) names Output and Output's error
    assert (again["status"], again["failed_state"], again["error"]) == ("FAILED", "Output", "KeyError")
    assert again["redrive_count"] == 1


def test_a_redrive_that_resumes_at_ingest_keeps_its_redrive_count(api_factory):
    # GIVEN a run that failed in Ingest
    api = api_factory([Fault("ingest", "RuntimeError", 1)])
    failed = api.run(KEY)
    assert (failed["status"], failed["failed_state"], failed["dataset"]) == ("FAILED", "Ingest", "transactions")
    assert failed["source"]["key"] == KEY
    listed = api.call("GET", "/runs?dataset=transactions").json_body["runs"]
    assert [run["run_id"] for run in listed] == [failed["run_id"]]
    # WHEN it is redriven (Ingest claims the run again)
    run = redrive(api, failed)
    # THEN the redrive is still counted
    assert (run["status"], run["redrive_count"]) == ("SUCCEEDED", 1)
