"""Names and cost-allocation tags of the stack's resources."""
from __future__ import annotations

from typing import Any

APP = "serverless-etl"
# Cost-allocation tags on every resource that takes tags (and on the stack itself, see infra/deploy.py).
TAG_KEYS = ("app", "stage", "component")


def stage_name(suffix: str) -> dict[str, Any]:
    """Stage-specific resource names: ``serverless-etl-<stage>-<suffix>``."""
    return {"Fn::Sub": name_in_stage("${Stage}", suffix)}


def name_in_stage(stage: str, suffix: str) -> str:
    """The name :func:`stage_name` gives in ``stage``."""
    return f"{APP}-{stage}-{suffix}"


MACHINE_SUFFIX = "etl"  # the state machine: serverless-etl-<stage>-etl


def tag_values(component: str) -> dict[str, Any]:
    """``app``, ``stage`` and ``component`` of a resource, as stack values."""
    return {"app": APP, "stage": {"Ref": "Stage"}, "component": component}


def tags(component: str) -> list[dict[str, Any]]:
    """The tags as most resource types take them: ``[{"Key": ..., "Value": ...}]``."""
    return [{"Key": key, "Value": value} for key, value in tag_values(component).items()]


# Where each resource type of the stack takes its tags, and in which form (a Key/Value list or a map).
_TAG_PROPERTIES = {
    **dict.fromkeys(("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::KMS::Key",
                     "AWS::Logs::LogGroup", "AWS::IAM::Role", "AWS::StepFunctions::StateMachine", "AWS::Events::Rule",
                     "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::Athena::WorkGroup", "AWS::CloudTrail::Trail",
                     "AWS::EC2::SecurityGroup",
                     "AWS::EC2::VPCEndpoint"), ("Tags", list)),
    "AWS::Budgets::Budget": ("ResourceTags", list),
    "AWS::SSM::Parameter": ("Tags", dict),
    "AWS::Backup::BackupVault": ("BackupVaultTags", dict),
    "AWS::Backup::BackupPlan": ("BackupPlanTags", dict),
}


def tagged(resources: dict[str, Any], component: str) -> dict[str, Any]:
    """``resources`` with ``app``, ``stage`` and ``component`` tags on each that takes tags and has none yet."""
    result = {}
    for logical_id, resource in resources.items():
        place = _TAG_PROPERTIES.get(resource.get("Type", ""))
        if place and place[0] not in resource.get("Properties", {}):
            key, form = place
            value = tags(component) if form is list else tag_values(component)
            resource = {**resource, "Properties": {**resource.get("Properties", {}), key: value}}
        result[logical_id] = resource
    return result
