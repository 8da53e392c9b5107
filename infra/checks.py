"""Checks of the IaC scanner (checkov) the design rejects, skipped in the resource's ``Metadata`` with the reason."""
from __future__ import annotations

from typing import Any

SYNCHRONOUS_NO_DLQ = ("CKV_AWS_116", "invoked synchronously (Step Functions tasks, API Gateway): a Lambda DLQ only "
                                     "catches asynchronous invocations; failures surface to the caller, which retries")
VPC_OPTIONAL = ("CKV_AWS_117", "the VPC is an option (VpcId, SubnetIds), off by default because interface endpoints cost money")


def skip(*checks: tuple[str, str]) -> dict[str, Any]:
    """``Metadata`` that skips ``checks`` ((id, reason) pairs)."""
    return {"checkov": {"skip": [{"id": check, "comment": reason} for check, reason in checks]}}
