"""The Lambda handlers in app.py, invoked the way Lambda does, through chalice.test.Client."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from chalice.test import Client

import app
from etl_local.emulation.events import status_change_event
from etl_local.emulation.faults import Fault
from etl_local.emulation.world import ACCOUNT, REGION, LocalAws
from infra.chalice_project import read_config
from tests.conftest import SAMPLES, put_raw

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:serverless-etl-local-etl:handler-test"


@pytest.fixture
def client():
    with Client(app.app, stage_name="local") as chalice_client:
        yield chalice_client


def invoke(client, name: str, payload: dict) -> dict:
    response = client.lambda_.invoke(name, payload)
    return response.payload


def run_chunks(world, client, state: dict) -> list[dict]:
    """Validate and transform each chunk of the plan ingest wrote, as the Map's iterations do; their last payloads."""
    plan = world.client("s3").get_object(Bucket=state["chunks"]["bucket"], Key=state["chunks"]["key"])["Body"].read()
    payloads = []
    for chunk in json.loads(plan):  # what the Map's ItemSelector hands each iteration
        task = {"run": state["run"], "chunk": chunk}
        for name in ("validate", "transform"):
            task = invoke(client, name, task)
            payloads.append(task)
    return payloads


def test_the_handlers_carry_references_only(world, client):
    execution_input = put_raw(world, "raw/transactions/t.jsonl", SAMPLES.joinpath("transactions.jsonl").read_bytes())
    state = invoke(client, "ingest", {"input": execution_input, "execution_id": EXECUTION, "started_at": "2024-03-15T10:00:00Z"})
    for task in run_chunks(world, client, state):
        assert len(json.dumps(task)) < 4096  # references and counts, never records
    for name in ("verdict", "output"):
        state = invoke(client, name, state)
        assert len(json.dumps(state)) < 4096
    assert set(state) == {"run", "chunks", "outcome", "transform", "output", "publication"}  # publication: whether a newer version won
    assert state["output"]["records_written"] == state["outcome"]["records_valid"] == 24


def test_local_stage_names_the_local_resources(world):
    config = read_config()
    assert config["stages"]["local"]["environment_variables"] == world.function_environment()


def test_failure_handler_records_a_failed_execution(client):
    with LocalAws(faults=[Fault("transform", "ValueError", 9)]) as world:
        execution_input = put_raw(world, "raw/transactions/t.jsonl", SAMPLES.joinpath("transactions.jsonl").read_bytes())
        execution = world.wait(world.start_execution("x", execution_input))
        result = invoke(client, "on_execution_failed", status_change_event(execution, ACCOUNT, REGION))
    assert result["action"] == "recorded" and result["failed_state"] == "Transform" and result["error"] == "ValueError"


def test_failure_events_of_other_state_machines_are_ignored(world, client):
    event = json.loads((Path(__file__).parent.parent / "events" / "execution_failed.json").read_text())
    result = invoke(client, "on_execution_failed", event)
    assert result == {"action": "ignored", "reason": f"not an execution of {world.state_machine_arn}"}


def test_the_failure_rule_matches_failed_timed_out_and_aborted_executions():
    from infra.delivery import failure_delivery

    # the deployment's rule, not Chalice's (which could carry no retry policy, dead-letter queue or destination)
    assert not app.app.event_sources
    [target] = failure_delivery()["FailedExecutionsRule"]["Properties"]["Targets"]
    pattern = failure_delivery()["FailedExecutionsRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert pattern["source"] == ["aws.states"] and target["Arn"]["Fn::Sub"].endswith(":function:serverless-etl-${Stage}-on_execution_failed")


def test_each_invocation_logs_with_its_own_context_and_no_keys_of_an_earlier_run(client, capsys):
    with LocalAws(function_log_level=logging.INFO) as world:
        # GIVEN a warm process where the verdict has logged a run's keys
        execution_input = put_raw(world, "raw/transactions/t.jsonl", SAMPLES.joinpath("transactions.jsonl").read_bytes())
        state = invoke(client, "ingest", {"input": execution_input, "execution_id": EXECUTION, "started_at": "2024-03-15T10:00:00Z"})
        run_chunks(world, client, state)
        invoke(client, "verdict", state)
        assert '"run_id"' in capsys.readouterr().err
        # WHEN the failure handler logs about another state machine's execution
        event = json.loads((Path(__file__).parent.parent / "events" / "execution_failed.json").read_text())
        invoke(client, "on_execution_failed", event)
    # THEN its line names its own function and carries no run id left over from the verdict
    [line] = [json.loads(text) for text in capsys.readouterr().err.splitlines() if text.startswith("{")]
    assert line["message"] == "execution failure ignored"
    assert line["function_name"] == "on_execution_failed"
    assert "run_id" not in line
