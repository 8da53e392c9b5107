"""A complete local AWS for the pipeline: buckets, table, queue, topic, functions, state machine."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import sys
import zipfile
from dataclasses import dataclass
from typing import Any, cast
from unittest import mock

import boto3
import requests
from moto import mock_aws
from moto.core.config import DefaultConfig
from moto.server import ThreadedMotoServer

import app as chalice_app
from chalicelib.failures import FAILED_EXECUTIONS_PATTERN
from chalicelib.observability import logger as function_logger
from chalicelib.services import Services, default_services
from chalicelib.steps import FAILURE_HANDLER, PIPELINE_STEPS
from chalicelib.storage.runs import table_definition
from etl_local.emulation import (
    apigateway,
    cloudformation,
    distributed_map,
    interpreter_clients,
    redrive,
    s3_bodies,
    s3_listing,
)
from etl_local.emulation.bridge import LambdaBridge
from etl_local.emulation.clock import VirtualClock
from etl_local.emulation.events import EventBridgeBridge
from etl_local.emulation.faults import Fault
from etl_local.emulation.storm import FaultStorm
from infra.chalice_project import function_config
from infra.definition import ETL_DEFINITION, render

REGION = "us-east-1"
# Calls within this machine cannot corrupt a body: every client of the process (the functions' too) skips the
# checksums botocore adds to uploads and checks on downloads where S3 does not require them, and with them the
# aws-chunked encoding of every upload, which botocore builds and moto decodes in Python (0.6 s of a 158 MB run).
LOCAL_CHECKSUMS = {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required", "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}
ACCOUNT = "123456789012"
FUNCTIONS = (*(step.function for step in PIPELINE_STEPS), FAILURE_HANDLER)
CHALICE_STAGE = "local"  # the stage of .chalice/config.json that names these resources
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


@dataclass(frozen=True)
class ResourceNames:
    """Names of the local resources, following Chalice's ``<app>-<stage>-<function>`` scheme."""

    prefix: str = "serverless-etl-local"
    raw_bucket = property(lambda self: f"{self.prefix}-raw")
    processed_bucket = property(lambda self: f"{self.prefix}-processed")
    runs_table = property(lambda self: f"{self.prefix}-runs")
    dead_letter_queue = property(lambda self: f"{self.prefix}-dlq")
    alerts_topic = property(lambda self: f"{self.prefix}-alerts")
    notifications_topic = property(lambda self: f"{self.prefix}-notifications")
    # a queue subscribed to the alerts and notifications topics, so local runs can show what was announced
    alerts_inbox = property(lambda self: f"{self.prefix}-alerts-inbox")
    state_machine = property(lambda self: f"{self.prefix}-etl")

    def function(self, step: str) -> str:
        return f"{self.prefix}-{step}"


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalAws:
    """Start moto with the pipeline's resources; use as a context manager.

    Parameters
    ----------
    faults
        Errors to inject into steps (``etl run --fail``).
    wait_scale
        Fraction of each retry wait to really sleep (0: skip waits, keep them in the history).
    s3_trigger
        Start a run for every object created under ``raw/`` in the raw bucket
        (S3 -> EventBridge rule -> state machine), as the deployed stack does.
    endpoint_port
        Serve the emulation over HTTP on 127.0.0.1 at this port (0: any free
        port), so other processes (aws CLI, boto3, curl) reach it through
        :attr:`endpoint_url`; every client in this process uses it too.
        Without it, moto runs in-process only.
    storm
        Transient faults to inject into a share of the functions' and the service
        integrations' AWS calls (``etl run --fault-rate``).
    """

    def __init__(
        self,
        faults: list[Fault] | None = None,
        wait_scale: float = 0.0,
        names: ResourceNames | None = None,
        function_log_level: int = logging.WARNING,
        s3_trigger: bool = False,
        endpoint_port: int | None = None,
        storm: FaultStorm | None = None,
    ) -> None:
        self.function_log_level = function_log_level
        self.storm = storm or FaultStorm(0.0)
        self.names = names or ResourceNames()
        self.clock = VirtualClock(wait_scale)
        self.bridge = LambdaBridge(
            {self.names.function(step): (step, getattr(chalice_app, step)) for step in FUNCTIONS},
            faults,
        )
        self.events = EventBridgeBridge(sleep=self.clock.sleep)
        self.s3_trigger = s3_trigger
        self.endpoint_port = endpoint_port
        self._stack = contextlib.ExitStack()
        self.state_machine_arn = ""
        self.endpoint_url = ""
        self.queue_url = ""
        self.inbox_url = ""
        self.topic_arn = ""
        self.notifications_topic_arn = ""
        self._clients: dict[str, Any] = {}

    def services(self) -> Services:
        """The functions' services, as an invocation in this world builds them."""
        return default_services()

    def client(self, service: str) -> Any:
        """A boto3 client of the emulation: one per service, as building one takes tens of milliseconds."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    def __enter__(self) -> LocalAws:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            self._clients.clear()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._clients.clear()

    def _start(self) -> None:
        # The interpreter logs every failed state with its internals; the run report says it better.
        interpreter_log = logging.getLogger("moto.stepfunctions.parser")
        previous_level = interpreter_log.level
        interpreter_log.setLevel(logging.CRITICAL)
        self._stack.callback(interpreter_log.setLevel, previous_level)
        self._route_function_logs()
        fake_credentials = {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
        self._stack.enter_context(mock.patch.dict(os.environ, fake_credentials | LOCAL_CHECKSUMS))
        if self.endpoint_port is None:
            self._stack.enter_context(mock_aws(config=cast(DefaultConfig, MOTO_CONFIG)))
        else:
            self._serve_endpoint()
        self._stack.enter_context(self.clock.installed())
        self._stack.enter_context(self.bridge.installed())
        self._stack.enter_context(redrive.installed())
        self._stack.enter_context(distributed_map.installed())
        self._stack.enter_context(self.events.installed())
        self._stack.enter_context(cloudformation.installed())
        self._stack.enter_context(apigateway.installed())
        self._stack.enter_context(s3_bodies.installed())
        self._stack.enter_context(s3_listing.installed())
        self._stack.enter_context(interpreter_clients.installed())
        self._create_storage()
        functions = self._create_functions()
        self._create_state_machine(functions)
        self._create_rules(functions)
        self._stack.enter_context(mock.patch.dict(os.environ, self.function_environment()))
        # EMF metrics are log lines for CloudWatch to read: locally they would only interleave with etl run's output.
        self._stack.enter_context(mock.patch.dict(os.environ, {"POWERTOOLS_METRICS_DISABLED": "true"}))
        if self.storm.rate > 0:  # after set-up: the storm is for the pipeline's calls
            self._stack.enter_context(self.storm.installed())

    def _serve_endpoint(self) -> None:
        """Start moto's HTTP server in this process; its backends are the ones the bridges patch."""
        port = self.endpoint_port or free_port()
        # moto's server logs every request it answers; the emulation's own logs say what matters.
        werkzeug = logging.getLogger("werkzeug")
        self._stack.callback(werkzeug.setLevel, werkzeug.level)
        werkzeug.setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        self._stack.callback(server.stop)
        self.endpoint_url = f"http://127.0.0.1:{port}"
        # moto's backends outlive its server in this process: forget them, as leaving mock_aws does, for the next world.
        self._stack.callback(requests.post, f"{self.endpoint_url}/moto-api/reset", timeout=10)
        # AWS_ENDPOINT_URL: every boto3 client of this process; MOTO_PORT: the interpreter's own clients.
        self._stack.enter_context(mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": self.endpoint_url, "MOTO_PORT": str(port)}))
        requests.post(f"{self.endpoint_url}/moto-api/config", json=MOTO_CONFIG, timeout=10).raise_for_status()

    def function_environment(self) -> dict[str, str]:
        """What the functions read from their environment (see ``chalicelib.config``)."""
        return {
            "RAW_BUCKET": self.names.raw_bucket,
            "PROCESSED_BUCKET": self.names.processed_bucket,
            "RUNS_TABLE": self.names.runs_table,
            "ALERTS_TOPIC_ARN": self.topic_arn,
            "STATE_MACHINE_ARN": self.state_machine_arn,
            "DEAD_LETTER_QUEUE_URL": self.queue_url,
        }

    def _route_function_logs(self) -> None:
        """Send the functions' JSON logs to stderr, so stdout stays the command's own output."""
        handler = cast(logging.StreamHandler, function_logger.registered_handler)  # Powertools logs to a stream
        level, stream = function_logger.log_level, handler.stream
        function_logger.setLevel(self.function_log_level)
        handler.setStream(sys.stderr)
        self._stack.callback(handler.setStream, stream)
        self._stack.callback(function_logger.setLevel, level)

    def _create_storage(self) -> None:
        s3 = self.client("s3")
        for bucket in (self.names.raw_bucket, self.names.processed_bucket):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.client("dynamodb").create_table(**table_definition(self.names.runs_table))
        sqs, sns = self.client("sqs"), self.client("sns")
        self.queue_url = sqs.create_queue(QueueName=self.names.dead_letter_queue)["QueueUrl"]
        self.inbox_url = sqs.create_queue(QueueName=self.names.alerts_inbox)["QueueUrl"]
        self.topic_arn = sns.create_topic(Name=self.names.alerts_topic)["TopicArn"]
        self.notifications_topic_arn = sns.create_topic(Name=self.names.notifications_topic)["TopicArn"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for topic in (self.topic_arn, self.notifications_topic_arn):
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)

    def _create_functions(self) -> dict[str, str]:
        role = self.client("iam").create_role(
            RoleName=f"{self.names.prefix}-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "# the bridge runs the real handlers in-process\n")
        arns = {}
        lam = self.client("lambda")
        for step in FUNCTIONS:
            arns[step] = lam.create_function(
                FunctionName=self.names.function(step),
                Runtime="python3.12",
                Role=role,
                Handler=f"app.{step}",
                Code={"ZipFile": code.getvalue()},
                MemorySize=function_config(CHALICE_STAGE, step).lambda_memory_size,
                Architectures=["arm64"],
            )["FunctionArn"]
        return arns

    def definition_substitutions(self, function_arns: dict[str, str]) -> dict[str, str]:
        """Values for the definition's placeholders, as ``DefinitionSubstitutions`` gives them on AWS."""
        return {
            **{step.placeholder: function_arns[step.function] for step in PIPELINE_STEPS},
            "RunsTableName": self.names.runs_table,
            "DeadLetterQueueUrl": self.queue_url,
            "NotificationsTopicArn": self.notifications_topic_arn,
        }

    def _create_state_machine(self, function_arns: dict[str, str]) -> None:
        definition = render(ETL_DEFINITION.read_text(), self.definition_substitutions(function_arns))
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=self.names.state_machine,
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{self.names.prefix}-states",
            type="STANDARD",
        )["stateMachineArn"]

    def _create_rules(self, function_arns: dict[str, str]) -> None:
        """The EventBridge rules of the deployed stack: failed executions -> on_execution_failed, and
        (with ``s3_trigger``) objects created under raw/ -> the state machine."""
        events = self.client("events")
        events.put_rule(Name=f"{self.names.prefix}-execution-failed", EventPattern=json.dumps(FAILED_EXECUTIONS_PATTERN))
        events.put_targets(Rule=f"{self.names.prefix}-execution-failed",
                           Targets=[{"Id": FAILURE_HANDLER, "Arn": function_arns[FAILURE_HANDLER]}])
        if not self.s3_trigger:
            return
        self.client("s3").put_bucket_notification_configuration(
            Bucket=self.names.raw_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
                   "detail": {"bucket": {"name": [self.names.raw_bucket]}, "object": {"key": [{"prefix": "raw/"}]}}}
        events.put_rule(Name=f"{self.names.prefix}-raw-object-created", EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"{self.names.prefix}-raw-object-created", Targets=[{
            "Id": "etl", "Arn": self.state_machine_arn, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{self.names.prefix}-events"}])

    def start_execution(self, name: str, execution_input: dict[str, Any]) -> str:
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]

    def wait(self, execution_arn: str, timeout_seconds: float = 120.0) -> dict[str, Any]:
        """Wait for the execution to end and for its status-change event to be handled.

        The event goes through EventBridge rules as on AWS (a failed execution's
        reaches ``on_execution_failed``), so once this returns the run record is final.
        """
        # Block on the status-change event rather than polling: each DescribeExecution takes the GIL
        # from the execution's thread (polling every 5 ms halved the throughput of a run).
        sfn = self.client("stepfunctions")
        endings = sfn.describe_execution(executionArn=execution_arn).get("redriveCount", 0) + 1
        self.events.wait_for_status_events(execution_arn, endings, timeout_seconds)
        execution = sfn.describe_execution(executionArn=execution_arn)
        return execution
