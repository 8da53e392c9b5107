"""`etl deploy` to a local AWS endpoint: the packaged stack runs a file end to end, then `etl destroy` removes it."""
from __future__ import annotations

import time

import pyarrow.parquet as pq
import pytest

from etl_local import cli
from etl_local.emulation.world import LocalAws
from tests.conftest import SAMPLES


@pytest.fixture
def endpoint():
    with LocalAws(endpoint_port=0) as world:
        yield world


def outputs_of(text: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in text.strip().splitlines())


def test_deploy_upload_run_and_destroy(endpoint, capsys, tmp_path):
    # WHEN the stack is deployed to the local endpoint
    assert cli.main(["deploy", "--stage", "dev", "--endpoint-url", endpoint.endpoint_url, "--region", "us-east-1"]) == 0
    outputs = outputs_of(capsys.readouterr().out)
    assert outputs["StateMachineArn"].endswith(":stateMachine:serverless-etl-dev-etl")
    assert outputs["RawBucketName"] == "serverless-etl-dev-raw-123456789012-us-east-1"

    # AND a file is dropped into the deployed raw bucket
    s3, sfn = endpoint.client("s3"), endpoint.client("stepfunctions")
    s3.put_object(Bucket=outputs["RawBucketName"], Key="raw/transactions/t.jsonl", Body=(SAMPLES / "transactions.jsonl").read_bytes())

    # THEN the deployed rule started the deployed state machine, whose deployed functions succeeded
    [execution] = sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"]
    assert endpoint.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    runs = endpoint.client("dynamodb").scan(TableName=outputs["RunsTableName"])["Items"]
    assert [(r["status"]["S"], r["records_written"]["N"]) for r in runs] == [("SUCCEEDED", "24")]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=outputs["ProcessedBucketName"], Prefix="processed/")["Contents"]]
    assert keys and all(k.startswith("processed/transactions/year=2024/") for k in keys)
    s3.download_file(outputs["ProcessedBucketName"], keys[0], str(tmp_path / "part.parquet"))
    assert pq.read_table(tmp_path / "part.parquet").column("run_id")[0].as_py() == runs[0]["run_id"]["S"]
    # and the local runtime's own resources were not used
    assert endpoint.client("dynamodb").scan(TableName=endpoint.names.runs_table)["Items"] == []

    # WHEN it is deployed again, unchanged: nothing to update, the same outputs, no wait
    started = time.monotonic()
    assert cli.main(["deploy", "--stage", "dev", "--endpoint-url", endpoint.endpoint_url, "--region", "us-east-1"]) == 0
    assert outputs_of(capsys.readouterr().out) == outputs and time.monotonic() - started < 60

    # AND destroyed, first keeping its data, then with it
    assert cli.main(["destroy", "--stage", "dev", "--endpoint-url", endpoint.endpoint_url, "--region", "us-east-1"]) == 0
    assert "removed stack serverless-etl-dev" in capsys.readouterr().out
    assert outputs["RawBucketName"] in {b["Name"] for b in s3.list_buckets()["Buckets"]}  # kept
    assert cli.main(["destroy", "--stage", "dev", "--endpoint-url", endpoint.endpoint_url, "--region", "us-east-1",
                     "--delete-data"]) == 0
    removed = capsys.readouterr().out

    # THEN nothing of it is left
    assert "removed bucket " + outputs["RawBucketName"] in removed
    assert outputs["StateMachineArn"] not in [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
    assert endpoint.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])["StackSummaries"] == []
    left = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not [b for b in left if b.startswith("serverless-etl-dev-")]
    assert outputs["RunsTableName"] not in endpoint.client("dynamodb").list_tables()["TableNames"]
