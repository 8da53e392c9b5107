"""``etl chalice-config``: point a Chalice stage at the resources stack, for ``chalice deploy``.

Writes into ``.chalice/config.json``, for the stage, the environment each function reads
(:func:`infra.template.function_environment`, with the stack's values) and the role each
function runs as (the stack's ``<Function>RoleArn`` outputs), with ``manage_iam_role`` off.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.steps import API_HANDLER, logical_id
from infra.chalice_project import read_config
from infra.template import CHALICE_FUNCTIONS, TASK_FUNCTIONS, function_environment


class MissingOutputs(LookupError):
    """The stack lacks outputs the stage needs (not the resources stack, or not finished)."""

# The stack output holding the value of each environment variable that references a resource.
_OUTPUT_OF_RESOURCE = {
    "RawBucket": "RawBucketName",
    "ProcessedBucket": "ProcessedBucketName",
    "RunsTableName": "RunsTableName",
    "AlertsTopic": "AlertsTopicArn",
    "DeadLetterQueue": "DeadLetterQueueUrl",
    "EtlStateMachine": "StateMachineArn",
}


def _value(expression: Any, outputs: dict[str, str]) -> str:
    return outputs[_OUTPUT_OF_RESOURCE[expression["Ref"]]] if isinstance(expression, dict) else expression


def required_outputs() -> list[str]:
    """The outputs :func:`stage_config` reads."""
    return sorted({*_OUTPUT_OF_RESOURCE.values(), *(f"{logical_id}RoleArn" for logical_id in CHALICE_FUNCTIONS)})


def stage_config(outputs: dict[str, str]) -> dict[str, Any]:
    """The stage section of ``.chalice/config.json`` for a deployed resources stack.

    Raises
    ------
    MissingOutputs
        Naming every output the stack lacks.
    """
    missing = [key for key in required_outputs() if key not in outputs]
    if missing:
        raise MissingOutputs(f"the stack has no output {', '.join(missing)} (is it the resources stack, "
                             "deployed with `etl deploy --resources-only`, and complete?)")
    shared = {k: _value(v, outputs) for k, v in function_environment(logical_id(API_HANDLER)).items()}
    functions: dict[str, Any] = {}
    for function_id, name in CHALICE_FUNCTIONS.items():
        if name == API_HANDLER:
            continue
        entry: dict[str, Any] = {"iam_role_arn": outputs[f"{function_id}RoleArn"]}
        if function_id in TASK_FUNCTIONS:
            entry["environment_variables"] = {"STATE_MACHINE_ARN": ""}
        functions[name] = entry
    section = {
        "api_gateway_stage": "api",
        "manage_iam_role": False,
        "iam_role_arn": outputs[f"{logical_id(API_HANDLER)}RoleArn"],  # the API handler's role
        "environment_variables": shared,
        "lambda_functions": functions,
    }
    if outputs.get("FunctionSubnetIds"):  # the VPC option: Chalice puts every function in these subnets
        section["subnet_ids"] = outputs["FunctionSubnetIds"].split(",")
        section["security_group_ids"] = [outputs["FunctionSecurityGroupId"]]
    return section


def write_stage(config_path: Path, stage: str, outputs: dict[str, str]) -> dict[str, Any]:
    """Replace ``stage`` in the Chalice config with the resources stack's values; return the new section."""
    config = read_config(config_path)
    section = config.setdefault("stages", {}).setdefault(stage, {})
    new = stage_config(outputs)
    # Merge, so the stage's other settings (LOG_LEVEL, memory, ...) stay.
    section.update({k: v for k, v in new.items() if k not in ("environment_variables", "lambda_functions")})
    section.setdefault("environment_variables", {}).update(new["environment_variables"])
    functions = section.setdefault("lambda_functions", {})
    for name, entry in new["lambda_functions"].items():
        existing = functions.setdefault(name, {})
        existing.update({k: v for k, v in entry.items() if k != "environment_variables"})
        if "environment_variables" in entry:
            existing.setdefault("environment_variables", {}).update(entry["environment_variables"])
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return section
