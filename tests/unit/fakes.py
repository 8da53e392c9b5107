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
        self.executions[arn]["status"] = "RUNNING"
        self.redriven.append(arn)


@dataclasses.dataclass(frozen=True)
class PlainNames:
    """The local stage's names, which the event fixtures in ``tests/events/`` carry."""

    raw_bucket: str = "serverless-etl-local-raw"
    processed_bucket: str = "serverless-etl-local-processed"
    runs_table: str = "serverless-etl-local-runs"


class PlainAws:
    """The pipeline's resources on a plain ``mock_aws``: no functions, no state machine, no event bridges.

    Offers what the stage tests use of the full emulation (``names``, ``client``,
    ``inbox_url``, ``state_machine_arn``), so they run without it.
    """

    def __init__(self) -> None:
        self.names = PlainNames()
        self.state_machine_arn = MACHINE
        self._mock = mock_aws()
        self._session: boto3.session.Session | None = None

    def __enter__(self) -> PlainAws:
        self._mock.start()
        self._session = boto3.session.Session(region_name=REGION)
        s3 = self.client("s3")
        for bucket in (self.names.raw_bucket, self.names.processed_bucket):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=self.names.raw_bucket, VersioningConfiguration={"Status": "Enabled"})
        self.client("dynamodb").create_table(**table_definition(self.names.runs_table))
        sqs, sns = self.client("sqs"), self.client("sns")
        self.queue_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        self.inbox_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        self.topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "false"})
        return self

    def __exit__(self, *exc: object) -> None:
        self._mock.stop()

    def client(self, service: str) -> Any:
        assert self._session is not None, "use PlainAws as a context manager"
        return self._session.client(service)

    def services(self) -> Services:
        """The stages' services on these resources, with :class:`FakeExecutions` for Step Functions."""
        assert self._session is not None, "use PlainAws as a context manager"
        settings = Settings(raw_bucket=self.names.raw_bucket, processed_bucket=self.names.processed_bucket,
                            runs_table=self.names.runs_table, alerts_topic_arn=self.topic_arn,
                            state_machine_arn=MACHINE, dead_letter_queue_url=self.queue_url)
        return dataclasses.replace(Services.create(settings, self._session), executions=FakeExecutions())  # type: ignore[arg-type]


@contextmanager
def plain_services() -> Iterator[Services]:
    """:meth:`PlainAws.services` for tests that need no more."""
    with PlainAws() as aws:
        yield aws.services()
