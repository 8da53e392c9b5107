"""``etl deploy`` / ``etl destroy``: the packaged stack, deployed through CloudFormation.

The SAM template from :func:`infra.package.package` is expanded here with AWS's own
translator (``aws-sam-translator``), so the same plain CloudFormation goes to AWS and to an
endpoint without the SAM transform (moto).  The code and the template travel through an
artefact bucket (the template is larger than CloudFormation takes inline).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from botocore.exceptions import ClientError, WaiterError

from infra.package import package

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployError(RuntimeError):
    """The stack could not be created, updated or deleted; the message says why."""


def stack_name(stage: str) -> str:
    return f"serverless-etl-{stage}"


@dataclass(frozen=True)
class _Aws:
    """Clients for one region, at AWS or at another endpoint (which takes any key)."""

    region: str
    endpoint_url: str | None = None

    @cached_property
    def _session(self) -> boto3.session.Session:
        session = boto3.session.Session(region_name=self.region)
        if self.endpoint_url and session.get_credentials() is None:
            session = boto3.session.Session(region_name=self.region, aws_access_key_id="local", aws_secret_access_key="local")
        return session

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint_url)

    @cached_property
    def account(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]


def artefact_bucket_name(stage: str, account: str, region: str) -> str:
    return f"serverless-etl-{stage}-artefacts-{account}-{region}"


def _artefact_bucket(s3: Any, account: str, region: str, stage: str) -> str:
    name = artefact_bucket_name(stage, account, region)
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        args = {"Bucket": name} if region == "us-east-1" else {"Bucket": name, "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(**args)
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        # Each deploy uploads code and template under a new name: old ones go after 30 days.
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
            {"ID": "old-artefacts-expire", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}]})
    return name


def _upload(s3: Any, bucket: str, path: Path, suffix: str) -> str:
    key = f"{hashlib.sha256(path.read_bytes()).hexdigest()[:32]}{suffix}"
    s3.upload_file(str(path), bucket, key)
    return key


def translate(sam: dict[str, Any], region: str) -> dict[str, Any]:
    """Expand ``AWS::Serverless-*`` resources into plain CloudFormation, as the SAM transform would."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # the stack names no AWS managed policy
        @staticmethod
        def load() -> dict[str, str]:
            return {}

    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": region}):
        return transform(sam, {}, NoManagedPolicies())


def deploy(stage: str, *, region: str, endpoint_url: str | None = None, with_dependencies: bool = True,
           alert_email: str = "") -> dict[str, str]:
    """Package, upload, create or update the stack ``serverless-etl-<stage>``; return its outputs."""
    aws = _Aws(region, endpoint_url)
    with tempfile.TemporaryDirectory(prefix="etl-deploy-") as scratch:
        s3, cfn = aws.client("s3"), aws.client("cloudformation")
        out = Path(scratch)
        sam = json.loads(package(stage, out, region=region, with_dependencies=with_dependencies).read_text())
        bucket = _artefact_bucket(s3, aws.account, region, stage)
        code_key = _upload(s3, bucket, out / "deployment.zip", ".zip")
        for resource in sam["Resources"].values():
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": code_key}
        template = out / "template.json"
        template.write_text(json.dumps(translate(sam, region)))
        template_key = _upload(s3, bucket, template, ".json")
        if endpoint_url:  # moto reads the bucket from an S3 host name
            template_url = f"https://{bucket}.s3.{region}.amazonaws.com/{template_key}"
        else:
            template_url = f"{s3.meta.endpoint_url}/{bucket}/{template_key}"
        name = stack_name(stage)
        status = _stack_status(cfn, name)
        if status in {"ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"}:  # a failed first create: only deletion helps
            cfn.delete_stack(StackName=name)
            _wait(cfn, "stack_delete_complete", name, endpoint_url)
            status = None
        email = {"ParameterKey": "AlertEmail", "ParameterValue": alert_email} if alert_email or status is None else {
            "ParameterKey": "AlertEmail", "UsePreviousValue": True}
        arguments = {"StackName": name, "TemplateURL": template_url, "Capabilities": CAPABILITIES,
                     "Parameters": [{"ParameterKey": "Stage", "ParameterValue": stage}, email]}
        try:
            if status is None:
                # Retained resources (buckets, table, key) are removed too if the very first create fails.
                cfn.create_stack(**arguments, RetainExceptOnCreate=True)
                _wait(cfn, "stack_create_complete", name, endpoint_url)
            else:
                cfn.update_stack(**arguments, RetainExceptOnCreate=True)
                _wait(cfn, "stack_update_complete", name, endpoint_url)
        except ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise DeployError(f"{name}: {error}") from error
        return outputs(name, region=region, endpoint_url=endpoint_url)


def _stack_status(cfn: Any, name: str) -> str | None:
    """The stack's status, or ``None`` when there is no such stack."""
    try:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return None if status == "DELETE_COMPLETE" else status


def _wait(cfn: Any, waiter: str, name: str, endpoint_url: str | None) -> None:
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 2 if endpoint_url else 15, "MaxAttempts": 240})
    except WaiterError as error:
        raise DeployError(f"{name}: {_failure(cfn, name) or error}") from error


def outputs(name: str, *, region: str, endpoint_url: str | None = None) -> dict[str, str]:
    stack = _Aws(region, endpoint_url).client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _failure(cfn: Any, name: str) -> str | None:
    """The first resource that failed (later ones are mostly "Resource creation cancelled")."""
    events = [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name) for e in page["StackEvents"]]
    failed = [e for e in reversed(events) if e.get("ResourceStatus", "").endswith("FAILED")]
    return "; ".join(f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in failed[:3]) or None


def _empty(s3: Any, bucket: str) -> None:
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start:start + 1000], "Quiet": True})


def destroy(stage: str, *, region: str, endpoint_url: str | None = None, delete_data: bool = False) -> list[str]:
    """Delete the stack; with ``delete_data``, also empty and delete the buckets (and their artefacts),
    delete the run table and schedule the key's deletion, which the stack keeps. Returns what was removed."""
    aws = _Aws(region, endpoint_url)
    cfn, name = aws.client("cloudformation"), stack_name(stage)
    removed = []
    if _stack_status(cfn, name) is not None:
        kept = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
                for r in page["StackResourceSummaries"]}
        cfn.delete_stack(StackName=name)
        _wait(cfn, "stack_delete_complete", name, endpoint_url)
        removed.append(f"stack {name}")
    else:  # already gone (e.g. a plain destroy before): the retained resources have known names
        kept = {"RawBucket": f"serverless-etl-{stage}-raw-{aws.account}-{region}",
                "ProcessedBucket": f"serverless-etl-{stage}-processed-{aws.account}-{region}",
                "RunsTable": f"serverless-etl-{stage}-runs"}
    if delete_data:
        removed += _delete_data(aws, stage, kept)
    return removed


def _delete_data(aws: _Aws, stage: str, kept: dict[str, str]) -> list[str]:
    s3, removed = aws.client("s3"), []
    artefacts = artefact_bucket_name(stage, aws.account, aws.region)
    for bucket in filter(None, [kept.get("RawBucket"), kept.get("ProcessedBucket"), artefacts]):
        try:
            _empty(s3, bucket)
            s3.delete_bucket(Bucket=bucket)
            removed.append(f"bucket {bucket}")
        except ClientError as error:
            if error.response["Error"]["Code"] not in {"NoSuchBucket", "404"}:
                raise
    if kept.get("RunsTable"):
        try:
            aws.client("dynamodb").delete_table(TableName=kept["RunsTable"])
            removed.append(f"table {kept['RunsTable']}")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
    if kept.get("DataKey"):
        aws.client("kms").schedule_key_deletion(KeyId=kept["DataKey"], PendingWindowInDays=7)
        removed.append(f"key {kept['DataKey']} (deletion in 7 days)")
    return removed
