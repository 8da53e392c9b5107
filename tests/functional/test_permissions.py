"""Every AWS call each function's code makes is allowed by its role (infra/permissions.py).

The samples run through the local pipeline and the API with a botocore hook
that records, per function, each call as the IAM action and resource it
needs; each must match a grant of that function, with the grant's
CloudFormation expressions resolved to the local resources.
"""
from __future__ import annotations

import contextvars
import fnmatch
import gzip
import json
import re
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.client import BaseClient
from chalice.test import Client

import app
from etl_local.emulation.bridge import CURRENT_FUNCTION
from etl_local.emulation.faults import Fault
from etl_local.emulation.world import ACCOUNT, CHALICE_STAGE, REGION, LocalAws
from infra import permissions as p
from infra.permissions import FUNCTION_GRANTS
from tests.conftest import SAMPLES

S3_ACTIONS = {"HeadObject": "s3:GetObject", "GetObject": "s3:GetObject", "PutObject": "s3:PutObject",
              "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
              "AbortMultipartUpload": "s3:AbortMultipartUpload", "DeleteObject": "s3:DeleteObject", "DeleteObjects": "s3:DeleteObject"}


def needed(world: LocalAws, service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one API call needs."""
    if service == "s3":
        bucket = params["Bucket"]
        if operation in ("ListObjectsV2", "ListObjects"):
            return [("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
        if operation == "ListObjectVersions":
            return [("s3:ListBucketVersions", f"arn:aws:s3:::{bucket}")]
        if operation == "CopyObject":  # read the source, write the target
            source = params["CopySource"]
            return [("s3:GetObject", f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"), ("s3:PutObject", f"arn:aws:s3:::{bucket}/{params['Key']}")]
        keys = [o["Key"] for o in params["Delete"]["Objects"]] if operation == "DeleteObjects" else [params["Key"]]
        action = S3_ACTIONS[operation]
        if action == "s3:GetObject" and params.get("VersionId"):
            action = "s3:GetObjectVersion"
        return [(action, f"arn:aws:s3:::{bucket}/{key}") for key in keys]
    if service == "dynamodb":
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}"
        return [(f"dynamodb:{operation}", table + (f"/index/{params['IndexName']}" if "IndexName" in params else ""))]
    if service == "states":
        arn = params.get("executionArn") or params.get("mapRunArn") or params["stateMachineArn"]
        return [(f"states:{operation}", arn)]
    if service == "sqs":
        name = params["QueueUrl"].rsplit("/", 1)[1]
        return [(f"sqs:{operation}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")]
    if service == "sns":
        return [(f"sns:{operation}", params["TopicArn"])]
    raise AssertionError(f"unexpected call {service}.{operation}: add it to this test and to infra/permissions.py")


def local_values(world: LocalAws) -> dict[str, str]:
    """What each logical id of the stack is, locally: its ``Ref`` and ``Arn``."""
    machine = world.names.state_machine
    return {
        f"{p.RAW}.Arn": f"arn:aws:s3:::{world.names.raw_bucket}",
        f"{p.PROCESSED}.Arn": f"arn:aws:s3:::{world.names.processed_bucket}",
        p.TABLE_NAME: world.names.runs_table,
        f"{p.QUEUE}.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{world.names.dead_letter_queue}",
        p.TOPIC: world.topic_arn,
        f"{p.KEY}.Arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/local",
        p.MACHINE: world.state_machine_arn,
        f"{p.MACHINE}.Name": machine,
        "AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "Stage": CHALICE_STAGE,
    }


def resolve(expression: Any, values: dict[str, str]) -> str:
    """A grant's resource as a glob over local ARNs."""
    if expression == "*":
        return "*"
    if "Ref" in expression:
        return values[expression["Ref"]]
    if "Fn::GetAtt" in expression:
        return values[".".join(expression["Fn::GetAtt"])]
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], expression["Fn::Sub"])


def granting(function: str, action: str, resource: str, values: dict[str, str]):
    """The function's grant that allows ``action`` on ``resource``, if any."""
    return next((grant for grant in FUNCTION_GRANTS[function] if action in grant.actions
                 and any(fnmatch.fnmatchcase(resource, resolve(r, values)) for r in grant.resources)), None)


# Permissions no API call of the code shows: KMS (S3, SQS and SNS use the key on the caller's behalf),
# ListBucket (makes a missing key answer 404), multipart aborts (on failed large uploads), and the
# presigned PUT the API hands out (the uploader's request runs with the API role's permission), and
# the failure handler's on-failure destination (Lambda sends there with the function's role, not its code),
# and X-Ray tracing (the Lambda runtime sends the segments, locally off: tests/unit/infra/test_tracing.py holds those grants).
NOT_OBSERVABLE = {"kms:Decrypt", "kms:GenerateDataKey", "s3:ListBucket", "s3:AbortMultipartUpload",
                  "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
NOT_OBSERVABLE_FOR = {("api_handler", "s3:PutObject"), ("on_execution_failed", "sqs:SendMessage")}


@pytest.fixture
def recorded(monkeypatch):
    """Calls made by the functions' code: (endpoint prefix, operation, parameters), per function."""
    calls: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    current_api: list[str | None] = [None]
    test_thread = threading.current_thread()
    make_api_call = BaseClient._make_api_call

    submit = ThreadPoolExecutor.submit

    def submit_in_context(executor, fn, /, *args, **kwargs):
        # s3transfer's workers do the functions' S3 transfers: let them see CURRENT_FUNCTION.
        return submit(executor, contextvars.copy_context().run, fn, *args, **kwargs)

    def recording(client, operation, params):
        # The API runs in the test's thread, the functions in the interpreter's threads.
        function = CURRENT_FUNCTION.get() or (current_api[0] if threading.current_thread() is test_thread else None)
        # The state machine's own calls go through moto's interpreter clients (access key "ak"): its role, not theirs.
        interpreter = client._request_signer._credentials.access_key == "ak"
        if function is not None and not interpreter:
            calls[function].add((client.meta.service_model.endpoint_prefix, operation, json.dumps(params, default=str, sort_keys=True)))
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    monkeypatch.setattr(ThreadPoolExecutor, "submit", submit_in_context)
    return calls, current_api


def test_every_call_of_every_function_is_granted(recorded):
    calls, current_api = recorded

    def api(method: str, path: str, body: dict | None = None) -> dict:
        current_api[0] = "api_handler"
        try:
            response = getattr(client.http, method)(path, headers={"content-type": "application/json"},
                                                    body=json.dumps(body) if body is not None else None)
        finally:
            current_api[0] = None
        assert response.status_code < 300, (path, response.json_body)
        return response.json_body

    faults = [Fault("ingest", "RuntimeError", 2), Fault("transform", "RuntimeError", 1)]
    with LocalAws(faults=faults) as world, Client(app.app, stage_name="local") as client:
        # GIVEN a run started without a version that fails in Ingest (the failure handler heads the latest version)
        world.client("s3").put_object(Bucket=world.names.raw_bucket, Key="raw/transactions/direct.jsonl",
                                      Body=(SAMPLES / "transactions.jsonl").read_bytes())
        world.wait(world.start_execution("direct", {"bucket": world.names.raw_bucket, "key": "raw/transactions/direct.jsonl"}))
        # AND runs that fail (in Ingest, then in Transform), succeed with quarantined records, and are rejected
        runs = []
        for key, sample in (("raw/transactions/t.jsonl", SAMPLES / "transactions.jsonl"),
                            ("raw/transactions/e.csv", SAMPLES / "transactions_with_errors.csv"),
                            ("raw/transactions/bad.jsonl", SAMPLES / "rejected" / "transactions_mostly_invalid.jsonl")):
            world.client("s3").put_object(Bucket=world.names.raw_bucket, Key=key, Body=sample.read_bytes())
            runs.append(api("post", "/runs", {"key": key}))
            world.wait(runs[-1]["execution_arn"])
        failed = runs[1]["run_id"]  # the injected fault failed its Transform
        # WHEN every route is used
        for path in ("/runs", "/runs?status=FAILED", "/runs?dataset=transactions", "/runs?status=FAILED&dataset=transactions",
                     f"/runs/{runs[2]['run_id']}", f"/runs/{failed}/history", "/dlq", "/datasets", "/datasets/metrics"):
            api("get", path)
        api("post", "/uploads", {"dataset": "metrics", "filename": "m.json"})
        api("post", f"/runs/{failed}/redrive")
        world.wait(runs[1]["execution_arn"])
        assert api("post", "/dlq/replay", {"message_ids": ["no-such-message"]})["results"][0]["outcome"] == "not_found"
        # AND a redriven run that failed in Ingest, which now claims its run with the version
        api("post", f"/runs/{runs[0]['run_id']}/redrive")
        world.wait(runs[0]["execution_arn"])
        for result in api("post", "/dlq/replay", {"all": True})["results"]:
            world.wait(result["execution_arn"])
        api("get", f"/runs/{failed}")  # now with output files, from its manifest
        # AND a second version of a file with fewer partitions: its rerun deletes the files it no longer has
        world.client("s3").put_object(Bucket=world.names.raw_bucket, Key="raw/transactions/e.csv",
                                      Body=b"\n".join((SAMPLES / "transactions_with_errors.csv").read_bytes().splitlines()[:2]))
        world.wait(api("post", "/runs", {"key": "raw/transactions/e.csv"})["execution_arn"])
        # AND a file ingest cannot cut by byte range (a gzip JSON array), which it streams into parts the chunks read
        world.client("s3").put_object(Bucket=world.names.raw_bucket, Key="raw/metrics/m.json.gz",
                                      Body=gzip.compress((SAMPLES / "metrics.json").read_bytes()))
        world.wait(api("post", "/runs", {"key": "raw/metrics/m.json.gz"})["execution_arn"])
        # AND a run started by hand with no version (Ingest pins the latest)
        world.wait(world.start_execution("by-hand", {"bucket": world.names.raw_bucket, "key": "raw/transactions/direct.jsonl"}))
        values = local_values(world)
    # AND a run whose failure handler failed on every attempt, reconciled when the API reads it
    with LocalAws(faults=[Fault("transform", "RuntimeError", 1), Fault("on_execution_failed", "TransientError", 3)]) as world, \
            Client(app.app, stage_name="local") as client:
        world.client("s3").put_object(Bucket=world.names.raw_bucket, Key="raw/transactions/t.jsonl",
                                      Body=(SAMPLES / "transactions.jsonl").read_bytes())
        stuck = api("post", "/runs", {"key": "raw/transactions/t.jsonl"})
        world.wait(stuck["execution_arn"])
        assert api("get", f"/runs/{stuck['run_id']}")["status"] == "FAILED"

    # THEN every function was seen, and each of its calls is granted
    assert set(calls) == set(FUNCTION_GRANTS)
    denied, used = [], set()
    for function, seen in calls.items():
        for service, operation, params in seen:
            for action, resource in needed(world, service, operation, json.loads(params)):
                grant = granting(function, action, resource, values)
                if grant is None:
                    denied.append((function, action, resource))
                used.add((function, id(grant), action))
    assert denied == []
    # AND no function is granted an action its code never needed (except those no call shows)
    unused = [(f, a) for f, grants in FUNCTION_GRANTS.items() for g in grants for a in g.actions
              if (f, id(g), a) not in used and a not in NOT_OBSERVABLE and (f, a) not in NOT_OBSERVABLE_FOR]
    assert unused == [], unused
