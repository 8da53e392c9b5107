"""Step Functions executions of the ETL state machine."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import ConfigurationError, transient_aws_errors

# How an execution ends when it did not succeed (what EventBridge's status-change rule matches, what a redrive resumes).
ENDED_UNSUCCESSFULLY = ("FAILED", "TIMED_OUT", "ABORTED")


class NotRedrivableError(Exception):
    """Step Functions refused to redrive the execution; the message says why."""


@dataclass(frozen=True)
class StartedExecution:
    """An execution of the state machine; ``created`` is False when it already existed."""

    arn: str
    created: bool


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class ExecutionStore:
    """Starts, reads and redrives executions.

    Parameters
    ----------
    client
        A boto3 Step Functions client.
    state_machine_arn
        The ETL state machine (needed to start executions and to name them).
    """

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._machine = state_machine_arn

    def arn_of(self, name: str) -> str:
        """The ARN an execution called ``name`` has (execution names are unique per machine)."""
        if not self._machine:
            raise ConfigurationError("STATE_MACHINE_ARN is not set")
        prefix, machine = self._machine.split(":stateMachine:", 1)
        return f"{prefix}:execution:{machine}:{name}"

    def describe(self, arn: str) -> dict[str, Any] | None:
        """``DescribeExecution``, or ``None`` when there is no such execution."""
        try:
            with transient_aws_errors(f"describe execution {arn}"):
                return self._sfn.describe_execution(executionArn=arn)
        except ClientError as error:
            if _code(error) == "ExecutionDoesNotExist":
                return None
            raise

    def start(self, name: str, execution_input: dict[str, Any]) -> StartedExecution:
        """Start an execution called ``name`` unless one exists (then return that one)."""
        arn = self.arn_of(name)
        if self.describe(arn) is not None:
            return StartedExecution(arn, created=False)
        try:
            with transient_aws_errors(f"start execution {name}"):
                self._sfn.start_execution(stateMachineArn=self._machine, name=name, input=json.dumps(execution_input))
        except ClientError as error:
            if _code(error) == "ExecutionAlreadyExists":  # started between our look and our start
                return StartedExecution(arn, created=False)
            raise
        return StartedExecution(arn, created=True)

    def history(self, arn: str) -> list[dict[str, Any]]:
        """Every event of the execution, with inputs and outputs, oldest first."""
        events: list[dict[str, Any]] = []
        paginator = self._sfn.get_paginator("get_execution_history")
        with transient_aws_errors(f"history of {arn}"):
            for page in paginator.paginate(executionArn=arn, includeExecutionData=True):
                events.extend(page["events"])
        return events

    def children(self, map_run_arn: str) -> list[dict[str, Any]]:
        """``ListExecutions`` of a Distributed Map's Map Run: its child executions (ARN, status, start and stop)."""
        children: list[dict[str, Any]] = []
        paginator = self._sfn.get_paginator("list_executions")
        with transient_aws_errors(f"children of {map_run_arn}"):
            for page in paginator.paginate(mapRunArn=map_run_arn):
                children.extend(page["executions"])
        return children

    def redrive(self, arn: str) -> None:
        """``RedriveExecution``: resume a failed execution at the state that failed.

        Raises
        ------
        NotRedrivableError
            When Step Functions refuses (not failed, too old, limit reached, ...).
        """
        try:
            with transient_aws_errors(f"redrive {arn}"):
                self._sfn.redrive_execution(executionArn=arn)
        except ClientError as error:
            if _code(error) in {"ExecutionNotRedrivable", "ExecutionLimitExceeded", "ExecutionDoesNotExist"}:
                raise NotRedrivableError(error.response["Error"].get("Message") or _code(error)) from error
            raise
