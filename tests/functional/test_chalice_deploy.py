"""The README's `chalice deploy` recipe, run as written against the local endpoint, then torn down in either order.

`chalice deploy` packages the dependencies of requirements.txt for Lambda (manylinux aarch64
wheels) with pip.  Tests reach no network, so its pip reads the wheels that
`.ci/prepare-lambda-wheels` downloaded ahead into build/lambda-wheels (PIP_NO_INDEX,
PIP_FIND_LINKS).  The deployed functions run this checkout's handlers in the emulation's process.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from etl_local.emulation.faults import Fault
from etl_local.emulation.world import REGION, LocalAws
from tests.conftest import SAMPLES

ROOT = Path(__file__).parents[2]
WHEELS = Path(os.environ.get("ETL_LAMBDA_WHEELS", ROOT / "build" / "lambda-wheels"))
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # Lambda's limit for a zip sent with CreateFunction, as `chalice deploy` sends it
STAGE = "dev"


def readme_block(marker: str) -> str:
    readme = (ROOT / "README.md").read_text()
    block = readme.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    return block.strip().removeprefix("```bash").removesuffix("```")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the Chalice project (the recipe rewrites .chalice/config.json), with this checkout's .venv."""
    if not any(WHEELS.glob("pyarrow-*aarch64*.whl")):
        pytest.fail(f"no Lambda wheels in {WHEELS}: run .ci/prepare (needs PyPI) before this test")
    copy = tmp_path_factory.mktemp("chalice-project")
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, copy / name)
    for folder in ("chalicelib", "schemas", ".chalice"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__", "deployments", "venv"))
    (copy / "vendor").mkdir()
    (copy / "vendor" / "schemas").symlink_to("../schemas")
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def run(script: str, project: Path, world: LocalAws) -> str:
    env = {**os.environ, "AWS_ENDPOINT_URL": world.endpoint_url, "AWS_DEFAULT_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELS)}
    env.pop("AWS_SESSION_TOKEN", None)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def outputs_of(text: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in text.splitlines() if line and not line.startswith(" ") and len(line.split()) == 2)


def run_of(world: LocalAws, outputs: dict[str, str], key: str, body: bytes) -> dict:
    """Upload under raw/, wait for the run the deployed rule starts, return its record."""
    s3, sfn = world.client("s3"), world.client("stepfunctions")
    before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"]}
    s3.put_object(Bucket=outputs["RawBucketName"], Key=key, Body=body)
    [execution] = [e for e in sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"]
                   if e["executionArn"] not in before]
    world.wait(execution["executionArn"])
    items = world.client("dynamodb").scan(TableName=outputs["RunsTableName"])["Items"]
    [item] = [i for i in items if i["source_key"]["S"] == key]
    return {k: next(iter(v.values())) for k, v in item.items()}


def stage_resources(world: LocalAws) -> list[str]:
    """Everything of the stage that would cost or get in the way: what a complete teardown removes."""
    prefix = f"serverless-etl-{STAGE}"
    found = [f"function {f['FunctionName']}" for f in world.client("lambda").list_functions()["Functions"]
             if f["FunctionName"].startswith(prefix)]
    found += [f"api {a['name']}" for a in world.client("apigateway").get_rest_apis()["items"]]
    found += [f"bucket {b['Name']}" for b in world.client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)]
    found += [f"table {t}" for t in world.client("dynamodb").list_tables()["TableNames"] if t.startswith(prefix)]
    found += [f"stack {s['StackName']}" for s in world.client("cloudformation").list_stacks()["StackSummaries"]
              if s["StackStatus"] != "DELETE_COMPLETE"]
    found += [f"rule {r['Name']}" for r in world.client("events").list_rules()["Rules"] if r["Name"].startswith(prefix)]
    found += [f"queue {q}" for q in world.client("sqs").list_queues().get("QueueUrls", []) if f"/{prefix}-" in q]
    found += [f"state machine {m['name']}" for m in world.client("stepfunctions").list_state_machines()["stateMachines"]
              if m["name"].startswith(prefix)]
    kms = world.client("kms")
    found += [f"key {k['KeyId']}" for k in kms.list_keys()["Keys"]
              if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"]
    found += [f"log-group {g['logGroupName']}" for page in world.client("logs").get_paginator("describe_log_groups").paginate()
              for g in page["logGroups"] if prefix in g["logGroupName"]]
    found += [f"role {r['RoleName']}" for page in world.client("iam").get_paginator("list_roles").paginate()
              for r in page["Roles"] if r["RoleName"].startswith(prefix)]
    found += [f"parameter {p['Name']}" for page in world.client("ssm").get_paginator("get_parameters_by_path").paginate(
              Path=f"/serverless-etl/{STAGE}/", Recursive=True) for p in page["Parameters"]]
    return found


def test_the_readme_chalice_deploy_recipe_runs_files_and_tears_down_in_either_order(project):
    with LocalAws(endpoint_port=0, faults=[Fault("transform", "RuntimeError", 1)]) as world:
        # WHEN the README's recipe runs as written: resources stack, etl chalice-config, chalice deploy, resources again
        printed = run(readme_block("chalice-deploy"), project, world)
        outputs = outputs_of(printed)
        assert outputs["StateMachineArn"].endswith(f":stateMachine:serverless-etl-{STAGE}-etl")
        # and the second pass found what chalice deploy made: its API's URL is published with the stack's names
        [api] = world.client("apigateway").get_rest_apis()["items"]
        assert outputs["EndpointURL"] == f"https://{api['id']}.execute-api.{REGION}.amazonaws.com/api/"
        assert world.client("ssm").get_parameter(Name=f"/serverless-etl/{STAGE}/EndpointURL")["Parameter"]["Value"] == outputs["EndpointURL"]
        # THEN Chalice deployed a zip Lambda takes directly
        [package] = (project / ".chalice" / "deployments").glob("*.zip")
        assert package.stat().st_size < DIRECT_UPLOAD_LIMIT, package.stat().st_size
        functions = {f["FunctionName"]: f for f in world.client("lambda").list_functions()["Functions"]}
        assert functions[f"serverless-etl-{STAGE}-ingest"]["Role"] == outputs["IngestRoleArn"]

        # AND a run that fails (the injected Transform error) is recorded by the Chalice-deployed failure handler
        failed = run_of(world, outputs, "raw/transactions/first.jsonl", (SAMPLES / "transactions.jsonl").read_bytes())
        assert (failed["status"], failed["failed_state"], failed["error"]) == ("FAILED", "Transform", "RuntimeError")
        # AND a file runs through the Chalice-deployed functions to SUCCEEDED, its Parquet in the stack's bucket
        succeeded = run_of(world, outputs, "raw/transactions/second.jsonl", (SAMPLES / "transactions.jsonl").read_bytes())
        assert (succeeded["status"], succeeded["records_written"]) == ("SUCCEEDED", "24")
        written = world.client("s3").list_objects_v2(Bucket=outputs["ProcessedBucketName"], Prefix="processed/transactions/")
        assert written["KeyCount"] > 0
        assert {step for step, _ in world.bridge.invocations} >= {"ingest", "validate", "transform", "output", "on_execution_failed"}
        # (and what a teardown must remove is seen: each kind of thing the stage made)
        assert {found.split()[0] for found in stage_resources(world)} == {
            "function", "api", "bucket", "table", "stack", "rule", "queue", "state", "key", "log-group", "role", "parameter"}

        # WHEN it is torn down as the README says: chalice delete, then the resources stack with its data
        removed = run(readme_block("chalice-teardown"), project, world)
        # THEN nothing of the stage is left, and the key is scheduled for deletion
        assert "removed key" in removed and "(deletion in 7 days)" in removed
        assert stage_resources(world) == []

        # WHEN deployed again and torn down the other way: the stack first, keeping its data, then chalice delete, then the data
        run(readme_block("chalice-deploy"), project, world)
        kept = run(f".venv/bin/etl destroy --stage {STAGE} --resources-only", project, world)
        assert f"kept table serverless-etl-{STAGE}-runs (etl destroy --delete-data removes it)" in kept.splitlines()
        run(f".venv/bin/chalice delete --stage {STAGE}", project, world)
        removed = run(f".venv/bin/etl destroy --stage {STAGE} --resources-only --delete-data", project, world)
        # THEN the data and the key went too, although the stack was already gone
        assert "removed stack" not in removed and "(deletion in 7 days)" in removed
        assert stage_resources(world) == []
