"""The state machines against the code's single owners: steps, retry policy, run record attributes."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import run_record
from chalicelib.steps import INGEST, LAMBDA_RETRIES, PIPELINE_STEPS, SERVICE_RETRY

MACHINES = sorted((Path(__file__).resolve().parents[2] / "statemachines").glob("*.asl.json"))
ETL = json.loads((Path(__file__).resolve().parents[2] / "statemachines" / "etl.asl.json").read_text())
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
_CLAUSE = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b")


def tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from tasks(branch["States"])
        if "ItemProcessor" in state:
            yield from tasks(state["ItemProcessor"]["States"])


def written_attributes(parameters: dict[str, Any]) -> set[str]:
    """The attributes a DynamoDB UpdateExpression sets, adds to or removes."""
    names = parameters.get("ExpressionAttributeNames", {})
    parts = _CLAUSE.split(parameters["UpdateExpression"])
    written = set()
    for clause, body in zip(parts[1::2], parts[2::2]):
        for action in body.split(","):
            action = action.strip()
            target = action.split("=")[0] if clause == "SET" else action.split()[0]
            written.add(names.get(target.strip(), target.strip()))
    return written


@pytest.mark.parametrize("machine", MACHINES, ids=lambda p: p.name)
def test_every_lambda_task_carries_the_one_retry_policy_and_every_integration_the_service_one(machine):
    definition = json.loads(machine.read_text())
    for name, state in tasks(definition["States"]):
        expected = LAMBDA_RETRIES if state["Resource"] == LAMBDA_INVOKE else [SERVICE_RETRY]
        assert state.get("Retry") == expected, name


def test_each_step_is_the_state_that_invokes_its_function():
    invoking = {state["Parameters"]["FunctionName"]: name for name, state in tasks(ETL["States"]) if state["Resource"] == LAMBDA_INVOKE}
    assert invoking == {f"${{{step.placeholder}}}": step.state for step in PIPELINE_STEPS}
    assert ETL["StartAt"] == INGEST.state


def test_every_attribute_the_state_machine_writes_belongs_to_the_run_record():
    updates = [(name, state["Parameters"]) for name, state in tasks(ETL["States"]) if state["Resource"].endswith("dynamodb:updateItem")]
    assert updates, "the state machine records outcomes itself"
    for name, parameters in updates:
        assert parameters["Key"].keys() == {run_record.RUN_ID}, name
        unknown = written_attributes(parameters) - run_record.ATTRIBUTES
        assert not unknown, f"{name} writes {sorted(unknown)}, which chalicelib/run_record.py does not declare"


def test_the_attribute_parser_reads_every_clause():
    parameters = {"UpdateExpression": "SET #s = :s, a = :a REMOVE #e, c ADD ids :i", "ExpressionAttributeNames": {"#s": "status", "#e": "error"}}
    assert written_attributes(parameters) == {"status", "a", "error", "c", "ids"}


@pytest.mark.parametrize("name", sorted(run_record.ATTRIBUTES - {run_record.RUN_ID, run_record.KIND, run_record.EXPIRES_AT,
                                                                     run_record.OUTPUT_MANIFEST}))
def test_every_attribute_the_run_holds_is_shown(name):
    # nothing is written only to be forgotten: each attribute changes the view (the index key, the TTL and the
    # manifest, whose files describe_run lists, are the exceptions)
    bare = {run_record.RUN_ID: "r"}
    kind = str(run_record.RunItem.__annotations__.get(name, ""))
    value = [7] if "list[int]" in kind else 7 if "int" in kind else (
        ["m-1"] if name == run_record.DLQ_MESSAGE_IDS else "2024-03-15T08:00:00+00:00" if name.endswith("_at") else "RUNNING")
    assert run_record.run_view({**bare, name: value}) != run_record.run_view(bare)
