"""Names and cost-allocation tags of the stack's resources."""
from __future__ import annotations

from typing import Any

APP = "serverless-etl"
# Cost-allocation tags on every resource that takes tags (and on the stack itself, see infra/deploy.py).
TAG_KEYS = ("app", "stage", "component")


def stage_name(suffix: str) -> dict[str, Any]:
    """Stage-specific resource names: ``serverless-etl-<stage>-<suffix>``."""
    return {"Fn::Sub": f"{APP}-${{Stage}}-{suffix}"}


def tag_values(component: str) -> dict[str, Any]:
    """``app``, ``stage`` and ``component`` of a resource, as stack values."""
    return {"app": APP, "stage": {"Ref": "Stage"}, "component": component}


def tags(component: str) -> list[dict[str, Any]]:
    """The tags as most resource types take them: ``[{"Key": ..., "Value": ...}]``."""
    return [{"Key": key, "Value": value} for key, value in tag_values(component).items()]
