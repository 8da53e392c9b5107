"""Chunks through the Distributed Map, as AWS runs it: a failed chunk fails the run at the Map, a redrive reruns only it."""
from __future__ import annotations

import json

import pytest

from chalicelib.steps import CHUNKS_STATE
from etl_local.emulation.faults import Fault
from etl_local.emulation.world import ACCOUNT, LocalAws
from etl_local.runner import run_file
from tests.conftest import SAMPLES

TINY_MB = 1500 / (1 << 20)  # the 24 sample transactions in 3 chunks


def children(world: LocalAws, execution_arn: str) -> list[dict]:
    sfn = world.client("stepfunctions")
    [map_run] = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    return sfn.list_executions(mapRunArn=map_run["mapRunArn"])["executions"]


def processed(world: LocalAws) -> list[str]:
    listing = world.client("s3").list_objects_v2(Bucket=world.names.processed_bucket, Prefix="processed/")
    return [o["Key"] for o in listing.get("Contents", [])]


def test_a_failed_chunk_fails_the_run_at_the_map_and_its_redrive_reruns_only_that_chunk(tmp_path, registry):
    with LocalAws(faults=[Fault("transform", "RuntimeError", 1)]) as world:
        sfn = world.client("stepfunctions")
        # GIVEN a file in three chunks, one of which fails in Transform
        report = run_file(world, SAMPLES / "transactions.jsonl", None, tmp_path, registry, chunk_mb=TINY_MB)
        # THEN the Map failed as on AWS, nothing was published, and the run names the chunk's state and error
        assert (report.status, report.chunks, report.failed_state, report.error) == ("FAILED", 3, "Transform", "RuntimeError")
        execution = sfn.describe_execution(executionArn=report.execution_arn)
        assert execution["error"] == "States.ExceedToleratedFailureThreshold" and processed(world) == []
        # AND each chunk is a child execution of its own, with its own history
        kids = children(world, report.execution_arn)
        assert sorted(k["status"] for k in kids) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
        [failed] = [k for k in kids if k["status"] == "FAILED"]
        assert sfn.describe_execution(executionArn=failed["executionArn"])["error"] == "RuntimeError"
        events = [e["type"] for e in sfn.get_execution_history(executionArn=failed["executionArn"])["events"]]
        assert events[0] == "ExecutionStarted" and events[-2:] == ["TaskFailed", "ExecutionFailed"]
        # WHEN the run is redriven
        before = len(world.bridge.invocations)
        sfn.redrive_execution(executionArn=report.execution_arn)
        assert world.wait(report.execution_arn)["status"] == "SUCCEEDED"
        # THEN only the failed chunk ran again, from the state it failed in; the others kept their results
        assert world.bridge.invocations[before:] == [("transform", "ok"), ("verdict", "ok"), ("output", "ok")]
        after = {k["executionArn"]: k["status"] for k in children(world, report.execution_arn)}
        assert after[failed["executionArn"]] == "SUCCEEDED" and set(after.values()) == {"SUCCEEDED"} and len(after) == 3
        events = [e["type"] for e in sfn.get_execution_history(executionArn=failed["executionArn"])["events"]]
        assert "ExecutionRedriven" in events and events[-1] == "ExecutionSucceeded"
        # AND every record was written once
        run = world.services().runs.get(report.run_id)
        assert (run["status"], run["records_written"], run["records_in"]) == ("SUCCEEDED", 24, 24)


def toy_map(world: LocalAws, tolerated: int) -> str:
    """A machine whose Distributed Map's children fail for items marked so, tolerating ``tolerated`` failures."""
    definition = {"StartAt": "Items", "States": {"Items": {
        "Type": "Map", "ToleratedFailureCount": tolerated, "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                       "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Broken"}],
                      "Default": "Fine"},
            "Broken": {"Type": "Fail", "Error": "ItemBroken", "Cause": "marked to fail"},
            "Fine": {"Type": "Pass", "End": True}}}}}}
    return world.client("stepfunctions").create_state_machine(
        name=f"toy-{tolerated}", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/toy")["stateMachineArn"]


@pytest.mark.parametrize(("items", "tolerated", "status"), [
    ([False, True, False], 1, "SUCCEEDED"),
    ([True, True, False], 1, "FAILED"),
    ([False, True], 0, "FAILED"),
    ([False, False], 0, "SUCCEEDED"),
], ids=["one failure tolerated", "two failures beyond one", "none tolerated", "all succeed"])
def test_children_that_fail_beyond_what_the_map_tolerates_fail_it(items, tolerated, status):
    with LocalAws() as world:
        world.client("s3").put_object(Bucket=world.names.processed_bucket, Key="items.json",
                                      Body=json.dumps([{"fail": fail} for fail in items]).encode())
        sfn = world.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=toy_map(world, tolerated), name="toy",
                                  input=json.dumps({"bucket": world.names.processed_bucket, "key": "items.json"}))["executionArn"]
        execution = world.wait(arn)
        assert execution["status"] == status
        if status == "FAILED":
            assert execution["error"] == "States.ExceedToleratedFailureThreshold"
        assert sorted(k["status"] for k in children(world, arn)) == sorted("FAILED" if f else "SUCCEEDED" for f in items)


def test_the_map_state_s_history_shows_its_map_run(tmp_path, registry):
    with LocalAws() as world:
        report = run_file(world, SAMPLES / "transactions.jsonl", None, tmp_path, registry, chunk_mb=TINY_MB)
        events = world.client("stepfunctions").get_execution_history(executionArn=report.execution_arn, maxResults=1000)["events"]
    kinds = [e["type"] for e in events]
    assert "MapRunStarted" in kinds and "MapRunSucceeded" in kinds
    [visit] = [s for s in report.states if s["name"] == CHUNKS_STATE]
    assert [c["index"] for c in visit["chunks"]] == [0, 1, 2] and {c["status"] for c in visit["chunks"]} == {"SUCCEEDED"}
