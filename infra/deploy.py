"""``etl deploy`` / ``etl destroy``: the packaged stack, or the resources stack, deployed through CloudFormation.

The SAM template from :func:`infra.package.package` is expanded here with AWS's own
translator (``aws-sam-translator``), so the same plain CloudFormation goes to AWS and to an
endpoint without the SAM transform (moto).  The code and the template travel through an
artefact bucket (the template is larger than CloudFormation takes inline).  With
``resources_only``, the stack is :func:`infra.template.resources_template`'s, for the
``chalice deploy`` path: no code, and the parts that name the functions once they exist.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from botocore.exceptions import ClientError, WaiterError

from chalicelib.steps import API_HANDLER, FAILURE_HANDLER
from infra.chalice_project import function_config
from infra.naming import APP
from infra.template import FUNCTIONS_DEPLOYED, chalice_function_name, resources_template

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
KEY_DELETION_DAYS = 7


class DeployError(RuntimeError):
    """The stack could not be created, updated or deleted; the message says why."""


def stack_name(stage: str, resources_only: bool = False) -> str:
    """``serverless-etl-<stage>``, or ``serverless-etl-<stage>-resources`` for the ``chalice deploy`` path."""
    return f"{APP}-{stage}-resources" if resources_only else f"{APP}-{stage}"


def stack_tags(stage: str) -> list[dict[str, str]]:
    """Cost-allocation tags of the stack; CloudFormation copies them to every resource it tags."""
    return [{"Key": "app", "Value": APP}, {"Key": "stage", "Value": stage}, {"Key": "component", "Value": "pipeline"}]


@dataclass(frozen=True)
class _Aws:
    """Clients for one region, at AWS or at another endpoint (``--endpoint-url``, else ``AWS_ENDPOINT_URL``)."""

    region: str
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def local(self) -> bool:
        """At an endpoint other than AWS (which takes any key and answers at once)."""
        return bool(self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))

    @cached_property
    def _session(self) -> boto3.session.Session:
        session = boto3.session.Session(region_name=self.region)
        if self.local and session.get_credentials() is None:
            session = boto3.session.Session(region_name=self.region, aws_access_key_id="local", aws_secret_access_key="local")
        return session

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    @cached_property
    def account(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]


def artefact_bucket_name(stage: str, account: str, region: str) -> str:
    return f"{APP}-{stage}-artefacts-{account}-{region}"


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


def _packaged_template(aws: _Aws, stage: str, out: Path, bucket: str, with_dependencies: bool) -> dict[str, Any]:
    from infra.package import package  # Chalice's packaging: only the single stack needs it

    sam = json.loads(package(stage, out, region=aws.region, with_dependencies=with_dependencies).read_text())
    code_key = _upload(aws.client("s3"), bucket, out / "deployment.zip", ".zip")
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": code_key}
    return translate(sam, aws.region)


def _functions_deployed(aws: _Aws, stage: str) -> bool:
    """Whether ``chalice deploy`` has made this stage's functions (the failure handler stands for them)."""
    try:
        aws.client("lambda").get_function(FunctionName=chalice_function_name(FAILURE_HANDLER).replace("${Stage}", stage))
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def _chalice_api_url(aws: _Aws, stage: str) -> str:
    """The URL of the REST API ``chalice deploy`` made for the stage ("" if none): the API its handler lets invoke it."""
    try:
        policy = json.loads(aws.client("lambda").get_policy(FunctionName=chalice_function_name(API_HANDLER).replace("${Stage}", stage))["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return ""
        raise
    for statement in policy.get("Statement", []):
        source = json.dumps(statement.get("Condition", {}))
        match = re.search(r"arn:[^:]+:execute-api:([^:]+):[0-9]+:([a-z0-9]+)/", source)
        if match:
            api_region, api_id = match.groups()
            return f"https://{api_id}.execute-api.{api_region}.amazonaws.com/{function_config(stage, API_HANDLER).api_gateway_stage}/"
    return ""


def _parameters(cfn: Any, name: str, status: str | None, given: dict[str, str]) -> list[dict[str, Any]]:
    """``given``; on an update, every other parameter of the stack keeps its value (CloudFormation would reset it).

    Previous values are passed as values (the template has no NoEcho parameter): moto takes
    ``UsePreviousValue`` only for parameters given when the stack was created.
    """
    previous = {} if status is None else {
        p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stacks(StackName=name)["Stacks"][0].get("Parameters", [])}
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in {**previous, **given}.items()]


def deploy(stage: str, *, region: str, endpoint_url: str | None = None, with_dependencies: bool = True,
           alert_email: str = "", resources_only: bool = False, parameters: dict[str, str] | None = None) -> dict[str, str]:
    """Create or update the stack (the packaged one, or the resources stack); return its outputs.

    ``parameters`` set template parameters (``VpcId``, ``MonthlyBudget``, ...); on an update the
    others keep their values.
    """
    aws = _Aws(region, endpoint_url)
    s3, cfn = aws.client("s3"), aws.client("cloudformation")
    name = stack_name(stage, resources_only)
    with tempfile.TemporaryDirectory(prefix="etl-deploy-") as scratch:
        bucket = _artefact_bucket(s3, aws.account, region, stage)
        out = Path(scratch)
        body = resources_template(stage) if resources_only else _packaged_template(aws, stage, out, bucket, with_dependencies)
        template = out / "template.json"
        template.write_text(json.dumps(body))
        # Path-style: what S3 serves at AWS and at a local endpoint alike.
        template_url = f"{s3.meta.endpoint_url}/{bucket}/{_upload(s3, bucket, template, '.json')}"
    status = _stack_status(cfn, name)
    if status in {"ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"}:  # a failed first create: only deletion helps
        cfn.delete_stack(StackName=name)
        _wait(aws, "stack_delete_complete", name)
        status = None
    given = {"Stage": stage, **({"AlertEmail": alert_email} if alert_email else {}), **(parameters or {})}
    if resources_only:
        given[FUNCTIONS_DEPLOYED] = str(_functions_deployed(aws, stage)).lower()
        given["ApiUrl"] = _chalice_api_url(aws, stage)
    arguments = {"StackName": name, "TemplateURL": template_url, "Capabilities": CAPABILITIES,
                 "Parameters": _parameters(cfn, name, status, given), "Tags": stack_tags(stage)}
    try:
        if status is None:
            # Retained resources (buckets, table, key) are removed too if the very first create fails.
            cfn.create_stack(**arguments, RetainExceptOnCreate=True)
            _wait(aws, "stack_create_complete", name)
        else:
            cfn.update_stack(**arguments, RetainExceptOnCreate=True)
            _wait(aws, "stack_update_complete", name)
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


def _wait(aws: _Aws, waiter: str, name: str) -> None:
    cfn = aws.client("cloudformation")
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 2 if aws.local else 15, "MaxAttempts": 240})
    except WaiterError as error:
        raise DeployError(f"{name}: {_failure(cfn, name) or error}") from error


def outputs(name: str, *, region: str, endpoint_url: str | None = None) -> dict[str, str]:
    stack = _Aws(region, endpoint_url).client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def published(stage: str, stack: str | None, *, region: str, endpoint_url: str | None = None) -> dict[str, str]:
    """The stack's outputs: those of ``stack`` if named, else what the stage's stack published in SSM,
    else the outputs of the resources stack."""
    if stack:
        return outputs(stack, region=region, endpoint_url=endpoint_url)
    from infra.discovery import read

    return read(stage, _Aws(region, endpoint_url).client("ssm")) or outputs(stack_name(stage, True), region=region, endpoint_url=endpoint_url)


def _failure(cfn: Any, name: str) -> str | None:
    """The first resource that failed (later ones are mostly "Resource creation cancelled")."""
    events = [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name) for e in page["StackEvents"]]
    failed = [e for e in reversed(events) if e.get("ResourceStatus", "").endswith("FAILED")]
    return "; ".join(f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in failed[:3]) or None


@dataclass
class Teardown:
    """What ``etl destroy`` removed, and what it kept (the retained data, unless asked to delete it)."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def retained_resources(stage: str, account: str, region: str) -> dict[str, tuple[str, str]]:
    """Logical id -> (type, physical name) of what the stack keeps when deleted (``DeletionPolicy: Retain``).

    Names follow from the template (``Fn::Sub`` over stage, account and region), so they are
    known after the stack is gone; the key, which has no name, is found by its tags.
    """
    values = {"Stage": stage, "AWS::AccountId": account, "AWS::Region": region}
    kept = {}
    for logical_id, resource in resources_template(stage)["Resources"].items():
        if resource.get("DeletionPolicy") != "Retain":
            continue
        properties = resource.get("Properties", {})
        named = next((properties[k] for k in ("BucketName", "TableName", "BackupVaultName") if k in properties), None)
        physical = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], named["Fn::Sub"]) if isinstance(named, dict) else ""
        kept[logical_id] = (resource["Type"], physical)
    return kept


def destroy(stage: str, *, region: str, endpoint_url: str | None = None, delete_data: bool = False,
            resources_only: bool = False) -> Teardown:
    """Delete the stack; with ``delete_data``, also empty and delete the buckets (and the artefacts), delete
    the run table and schedule the key's deletion, which the stack keeps, whether or not the stack is still there."""
    aws = _Aws(region, endpoint_url)
    cfn, name, teardown = aws.client("cloudformation"), stack_name(stage, resources_only), Teardown()
    retained = retained_resources(stage, aws.account, region)
    physical: dict[str, str] = {}
    if _stack_status(cfn, name) is not None:
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
                    for r in page["StackResourceSummaries"]}
        cfn.delete_stack(StackName=name)
        _wait(aws, "stack_delete_complete", name)
        teardown.removed.append(f"stack {name}")
    for logical_id, (kind, default_name) in retained.items():
        resource = _Retained(aws, kind, physical.get(logical_id) or default_name or _key_of(aws, stage))
        if not resource.name or not resource.exists():
            continue
        if delete_data:
            teardown.removed.append(resource.delete())
        else:
            teardown.kept.append(resource.describe())
    if delete_data and _Retained(aws, "AWS::S3::Bucket", artefact_bucket_name(stage, aws.account, region)).exists():
        teardown.removed.append(_Retained(aws, "AWS::S3::Bucket", artefact_bucket_name(stage, aws.account, region)).delete())
    return teardown


def _key_of(aws: _Aws, stage: str) -> str:
    """The stage's customer-managed key that is not yet scheduled for deletion, found by its tags ("" if none)."""
    kms = aws.client("kms")
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            try:
                tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])}
                state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
            except ClientError:  # keys of other services or accounts: not ours to read
                continue
            if tags.get("app") == APP and tags.get("stage") == stage and state != "PendingDeletion":
                return key["KeyId"]
    return ""


@dataclass
class _Retained:
    """One resource the stack keeps: a bucket, the run table, the key, the backup vault."""

    aws: _Aws
    kind: str
    name: str

    def exists(self) -> bool:
        try:
            if self.kind == "AWS::S3::Bucket":
                self.aws.client("s3").head_bucket(Bucket=self.name)
            elif self.kind == "AWS::DynamoDB::Table":
                self.aws.client("dynamodb").describe_table(TableName=self.name)
            elif self.kind == "AWS::KMS::Key":
                return self.aws.client("kms").describe_key(KeyId=self.name)["KeyMetadata"]["KeyState"] != "PendingDeletion"
            elif self.kind == "AWS::Backup::BackupVault":
                self.aws.client("backup").describe_backup_vault(BackupVaultName=self.name)
        except ClientError as error:
            if error.response["Error"]["Code"] in {"404", "NoSuchBucket", "ResourceNotFoundException", "NotFoundException",
                                                   "AccessDeniedException"}:
                return False
            raise
        return True

    def describe(self) -> str:
        return {"AWS::S3::Bucket": "bucket", "AWS::DynamoDB::Table": "table", "AWS::KMS::Key": "key",
                "AWS::Backup::BackupVault": "backup vault"}[self.kind] + f" {self.name}"

    def delete(self) -> str:
        if self.kind == "AWS::S3::Bucket":
            _empty(self.aws.client("s3"), self.name)
            self.aws.client("s3").delete_bucket(Bucket=self.name)
        elif self.kind == "AWS::DynamoDB::Table":
            self.aws.client("dynamodb").delete_table(TableName=self.name)
        elif self.kind == "AWS::KMS::Key":
            self.aws.client("kms").schedule_key_deletion(KeyId=self.name, PendingWindowInDays=KEY_DELETION_DAYS)
            return f"{self.describe()} (deletion in {KEY_DELETION_DAYS} days)"
        elif self.kind == "AWS::Backup::BackupVault":
            _empty_vault(self.aws.client("backup"), self.name)
            self.aws.client("backup").delete_backup_vault(BackupVaultName=self.name)
        return self.describe()


def _empty(s3: Any, bucket: str) -> None:
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start:start + 1000], "Quiet": True})


def _empty_vault(backup: Any, vault: str) -> None:
    for page in backup.get_paginator("list_recovery_points_by_backup_vault").paginate(BackupVaultName=vault):
        for point in page["RecoveryPoints"]:
            backup.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=point["RecoveryPointArn"])
