"""`etl deploy` to a local AWS endpoint: the packaged stack runs a file end to end, then `etl destroy` removes it."""
from __future__ import annotations

import json
import time

import pyarrow.parquet as pq
import pytest

from chalicelib.steps import INGEST
from etl_local import cli
from etl_local.emulation.faults import Fault
from etl_local.emulation.refusals import start_execution_refused
from etl_local.emulation.world import ACCOUNT, REGION, LocalAws
from infra.deploy import deploy, destroy
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
    assert [(r["status"]["S"], r["records_written"]["N"], r["chunks"]["N"]) for r in runs] == [("SUCCEEDED", "24", "1")]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=outputs["ProcessedBucketName"], Prefix="processed/")["Contents"]]
    assert keys and all(k.startswith("processed/transactions/year=2024/") for k in keys)
    s3.download_file(outputs["ProcessedBucketName"], keys[0], str(tmp_path / "part.parquet"))
    assert pq.read_table(tmp_path / "part.parquet").column("run_id")[0].as_py() == runs[0]["run_id"]["S"]
    # and the local runtime's own resources were not used
    assert endpoint.client("dynamodb").scan(TableName=endpoint.names.runs_table)["Items"] == []

    # WHEN the deployed ingest function is set to chunks of about 1.5 KB (CHUNK_MB, as an operator sets a stage's)
    # and a file is dropped: the S3 event's own run is cut (a run started beside it would race it for the claim)
    lambda_client = endpoint.client("lambda")
    [ingest] = [f for f in lambda_client.list_functions()["Functions"] if f["FunctionName"].endswith(f"-dev-{INGEST.function}")]
    environment = ingest["Environment"]["Variables"]
    lambda_client.update_function_configuration(FunctionName=ingest["FunctionName"],
                                                Environment={"Variables": {**environment, "CHUNK_MB": "0.0015"}})
    s3.put_object(Bucket=outputs["RawBucketName"], Key="raw/transactions/chunked.jsonl", Body=(SAMPLES / "transactions.jsonl").read_bytes())
    # THEN its Distributed Map ran every chunk through the deployed functions, and the run wrote every record once
    [chunked] = [e for e in sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"]
                 if e["executionArn"] != execution["executionArn"]]
    assert endpoint.wait(chunked["executionArn"])["status"] == "SUCCEEDED"
    [run] = [r for r in endpoint.client("dynamodb").scan(TableName=outputs["RunsTableName"])["Items"]
             if r["source_key"]["S"] == "raw/transactions/chunked.jsonl"]
    assert (run["status"]["S"], int(run["chunks"]["N"]), run["records_written"]["N"]) == ("SUCCEEDED", 3, "24")
    lambda_client.update_function_configuration(FunctionName=ingest["FunctionName"], Environment={"Variables": environment})

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


def queue_messages(world: LocalAws, url: str) -> list[dict]:
    return world.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])


def test_undeliverable_events_land_in_the_dead_letter_queue_and_the_failure_handlers_destination():
    # GIVEN the deployed stack, whose Transform fails once and whose failure handler fails on every attempt
    with LocalAws(endpoint_port=0, faults=[Fault("transform", "RuntimeError", 1), Fault("on_execution_failed", "TransientError", 99)]) as world:
        deployed = deploy("dev", region="us-east-1", endpoint_url=world.endpoint_url, with_dependencies=False)
        s3, sfn = world.client("s3"), world.client("stepfunctions")
        body = (SAMPLES / "transactions.jsonl").read_bytes()

        # WHEN Step Functions refuses to start the run of a new object, past the rule's retries
        with start_execution_refused(ACCOUNT, REGION) as refused:
            s3.put_object(Bucket=deployed["RawBucketName"], Key="raw/transactions/refused.jsonl", Body=body)
        # THEN the Object Created event waits in the undelivered-events queue, saying which rule, target and error
        assert refused.attempts == 1 + 185
        [message] = queue_messages(world, deployed["UndeliveredEventsQueueUrl"])
        event, attributes = json.loads(message["Body"]), message["MessageAttributes"]
        assert event["detail-type"] == "Object Created" and event["detail"]["object"]["key"] == "raw/transactions/refused.jsonl"
        assert attributes["ERROR_CODE"]["StringValue"] == "ThrottlingException"
        assert attributes["RULE_ARN"]["StringValue"].endswith(":rule/serverless-etl-dev-start-run")
        assert attributes["TARGET_ARN"]["StringValue"] == deployed["StateMachineArn"]
        assert sfn.list_executions(stateMachineArn=deployed["StateMachineArn"])["executions"] == []

        # WHEN a run fails and the failure handler fails on its three attempts
        s3.put_object(Bucket=deployed["RawBucketName"], Key="raw/transactions/failing.jsonl", Body=body)
        [execution] = sfn.list_executions(stateMachineArn=deployed["StateMachineArn"])["executions"]
        assert world.wait(execution["executionArn"])["status"] == "FAILED"
        # THEN its status-change event is in the handler's on-failure destination, with the handler's last error
        [message] = queue_messages(world, deployed["FailedInvocationsQueueUrl"])
        record = json.loads(message["Body"])
        assert record["requestContext"]["condition"] == "RetriesExhausted" and record["requestContext"]["approximateInvokeCount"] == 3
        assert record["requestContext"]["functionArn"].endswith(":function:serverless-etl-dev-on_execution_failed:$LATEST")
        assert record["requestPayload"]["detail"]["executionArn"] == execution["executionArn"]
        assert record["responsePayload"]["errorType"] == "TransientError"
        # and no event was dropped by the deployed stack (the emulation's own failure rule has no destination)
        assert [arn for arn, _ in world.events.dropped if "-dev-" in arn] == []
        destroy("dev", region="us-east-1", endpoint_url=world.endpoint_url, delete_data=True)


def test_a_restored_run_table_takes_over_the_stage(endpoint):
    # GIVEN the deployed stack, which has recorded a run in its own table
    deployed = deploy("dev", region="us-east-1", endpoint_url=endpoint.endpoint_url, with_dependencies=False)
    s3, sfn, dynamodb = endpoint.client("s3"), endpoint.client("stepfunctions"), endpoint.client("dynamodb")
    body = (SAMPLES / "transactions.jsonl").read_bytes()

    def run(key: str) -> None:
        before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=deployed["StateMachineArn"])["executions"]}
        s3.put_object(Bucket=deployed["RawBucketName"], Key=key, Body=body)
        [new] = [e for e in sfn.list_executions(stateMachineArn=deployed["StateMachineArn"])["executions"] if e["executionArn"] not in before]
        assert endpoint.wait(new["executionArn"])["status"] == "SUCCEEDED"

    def recorded(table: str) -> list[str]:
        return sorted(item["source_key"]["S"] for item in dynamodb.scan(TableName=table)["Items"])

    run("raw/transactions/before.jsonl")
    own = deployed["RunsTableName"]
    assert own == "serverless-etl-dev-runs"

    # WHEN the table is restored under another name and the stage pointed at it, as the README's runbook says
    restored = f"{own}-restored"
    dynamodb.restore_table_to_point_in_time(SourceTableName=own, TargetTableName=restored, UseLatestRestorableTime=True)
    pointed = deploy("dev", region="us-east-1", endpoint_url=endpoint.endpoint_url, with_dependencies=False,
                     parameters={"RunsTableName": restored})

    # THEN the stage publishes it, and a new run is recorded there, beside the restored history, by the functions and the state machine
    assert pointed["RunsTableName"] == restored
    assert endpoint.client("ssm").get_parameter(Name="/serverless-etl/dev/RunsTableName")["Parameter"]["Value"] == restored
    run("raw/transactions/after.jsonl")
    assert recorded(restored) == ["raw/transactions/after.jsonl", "raw/transactions/before.jsonl"]
    assert recorded(own) == ["raw/transactions/before.jsonl"]  # the stack's own table is kept, no longer used
    assert pointed["BackupRoleArn"].startswith("arn:aws:iam::")  # what the runbook's restore jobs run as
    destroy("dev", region="us-east-1", endpoint_url=endpoint.endpoint_url, delete_data=True)
    dynamodb.delete_table(TableName=restored)  # not the stack's: etl destroy leaves it, as the README says
