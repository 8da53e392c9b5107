"""Small stand-ins for unit tests: plain moto resources and an in-memory execution store."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from chalicelib.config import Settings
from chalicelib.services import Services
from chalicelib.storage.executions import NotRedrivableError, StartedExecution
from chalicelib.storage.runs import table_definition

REGION = "us-east-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:etl"


class FakeExecutions:
    """Executions of the state machine, held in memory (what the control plane asks of Step Functions)."""

    def __init__(self) -> None:
        self.executions: dict[str, dict[str, Any]] = {}
        self.redriven: list[str] = []
        self.refuse_redrive: Exception | None = None

    def arn_of(self, name: str) -> str:
        return f"{MACHINE.replace(':stateMachine:', ':execution:')}:{name}"

    def start(self, name: str, execution_input: dict[str, Any]) -> StartedExecution:
        arn = self.arn_of(name)
        created = arn not in self.executions
        self.executions.setdefault(arn, {"executionArn": arn, "status": "RUNNING", "input": json.dumps(execution_input),
                                         "startDate": datetime(2024, 3, 15, 8, tzinfo=UTC)})
        return StartedExecution(arn=arn, created=created)

    def describe(self, arn: str) -> dict[str, Any] | None:
        return self.executions.get(arn)

    def history(self, arn: str) -> list[dict[str, Any]]:
        return []

    def redrive(self, arn: str) -> None:
        if self.refuse_redrive is not None:
            raise self.refuse_redrive
        if arn not in self.executions:
            raise NotRedrivableError(f"no execution {arn}")
        self.redriven.append(arn)


@contextmanager
def plain_services() -> Iterator[Services]:
    """Buckets, run table, queue and topic on a plain ``mock_aws``, with :class:`FakeExecutions`."""
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        for bucket in ("raw", "processed"):
            session.client("s3").create_bucket(Bucket=bucket)
        session.client("s3").put_bucket_versioning(Bucket="raw", VersioningConfiguration={"Status": "Enabled"})
        session.client("dynamodb").create_table(**table_definition("runs"))
        queue = session.client("sqs").create_queue(QueueName="dlq")["QueueUrl"]
        topic = session.client("sns").create_topic(Name="alerts")["TopicArn"]
        settings = Settings(raw_bucket="raw", processed_bucket="processed", runs_table="runs", alerts_topic_arn=topic,
                            state_machine_arn=MACHINE, dead_letter_queue_url=queue)
        yield dataclasses.replace(Services.create(settings, session), executions=FakeExecutions())  # type: ignore[arg-type]
