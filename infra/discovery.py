"""Discovery: the stack publishes its resource names (its outputs) in SSM Parameter Store, ``/serverless-etl/<stage>/<Output>``.

``etl chalice-config`` and the API commands read them when neither a flag nor an
environment variable names what they need.
"""
from __future__ import annotations

from typing import Any

from infra.naming import APP, tag_values


def parameter_path(stage: str) -> str:
    return f"/{APP}/{stage}/"


def parameters(outputs: dict[str, Any]) -> dict[str, Any]:
    """An ``AWS::SSM::Parameter`` per output, with the output's condition."""
    return {
        f"{key}Parameter": {"Type": "AWS::SSM::Parameter", **({"Condition": output["Condition"]} if "Condition" in output else {}),
                            "Properties": {"Name": {"Fn::Sub": f"/{APP}/${{Stage}}/{key}"}, "Type": "String", "Value": output["Value"],
                                           "Description": f"{APP}: the stack's {key}", "Tags": tag_values("discovery")}}
        for key, output in outputs.items()
    }


def read(stage: str, ssm: Any) -> dict[str, str]:
    """Output name -> value, as the stack of ``stage`` published them (empty when there is no such stack)."""
    path = parameter_path(stage)
    return {item["Name"].removeprefix(path): item["Value"]
            for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path)
            for item in page["Parameters"]}
