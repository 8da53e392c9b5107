"""Each traced function's role grants exactly what X-Ray tracing needs (issue 15).

The Lambda runtime sends a traced function's segments (Powertools' Tracer adds its
subsegments to them) with the function's role: ``xray:PutTraceSegments`` and
``xray:PutTelemetryRecords``.  No local run makes those calls, so the permissions test
cannot observe them; the template is checked here instead.
"""
from __future__ import annotations

import pytest

from infra.chalice_project import function_config
from infra.template import CHALICE_FUNCTIONS, merge_template, resources_template

TRACING_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
STAGES = ("dev", "prod")


def policies(role: dict) -> list[dict]:
    """The role's inline policies, both branches of a conditional one (``Fn::If``) included."""
    found = []
    for policy in role["Properties"]["Policies"]:
        branches = policy["Fn::If"][1:] if "Fn::If" in policy else [policy]
        found += [branch for branch in branches if "PolicyDocument" in branch]
    return found


def xray_statements(role: dict) -> list[dict]:
    statements = [s for policy in policies(role) for s in policy["PolicyDocument"]["Statement"]]
    return [s for s in statements if any(action.startswith("xray:") for action in s["Action"])]


def traced(stage: str) -> set[str]:
    """Logical ids of the functions that run with active tracing (``xray`` in .chalice/config.json)."""
    return {logical_id for logical_id, name in CHALICE_FUNCTIONS.items() if function_config(stage, name).xray_enabled}


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_traced(stage):
    assert traced(stage) == set(CHALICE_FUNCTIONS)


@pytest.mark.parametrize("template", [merge_template, resources_template], ids=["chalice-package", "chalice-deploy"])
@pytest.mark.parametrize("stage", STAGES)
def test_a_traced_functions_role_grants_exactly_the_tracing_actions(stage, template):
    resources = template(stage)["Resources"]
    for logical_id in CHALICE_FUNCTIONS:
        statements = xray_statements(resources[f"{logical_id}Role"])
        if logical_id not in traced(stage):
            assert statements == [], logical_id
            continue
        assert [set(s["Action"]) for s in statements] == [TRACING_ACTIONS], logical_id
        assert [s["Resource"] for s in statements] == [["*"]]  # X-Ray's actions take no resource
