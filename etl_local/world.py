"""A complete local AWS for the pipeline: buckets, table, queue, topic, functions, state machine."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

import app as chalice_app
from chalicelib.observability import logger as function_logger
from chalicelib.services import default_services
from chalicelib.storage.runs import table_definition
from etl_local import redrive
from etl_local.bridge import Fault, LambdaBridge
from etl_local.clock import VirtualClock
from etl_local.definition import ETL_DEFINITION, PROJECT_ROOT, render

REGION = "us-east-1"
ACCOUNT = "123456789012"
FINAL_STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
FAILURE_STATUSES = {"FAILED", "TIMED_OUT", "ABORTED"}
PIPELINE_STEPS = ("ingest", "validate", "transform", "output")
FAILURE_HANDLER = "on_execution_failed"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


@dataclass(frozen=True)
class ResourceNames:
    """Names of the local resources, following Chalice's ``<app>-<stage>-<function>`` scheme."""

    prefix: str = "serverless-etl-local"

    @property
    def raw_bucket(self) -> str:
        return f"{self.prefix}-raw"

    @property
    def processed_bucket(self) -> str:
        return f"{self.prefix}-processed"

    @property
    def runs_table(self) -> str:
        return f"{self.prefix}-runs"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}-dlq"

    @property
    def alerts_topic(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def alerts_inbox(self) -> str:
        """A queue subscribed to the alerts topic, so local runs can show what was announced."""
        return f"{self.prefix}-alerts-inbox"

    @property
    def state_machine(self) -> str:
        return f"{self.prefix}-etl"

    def function(self, step: str) -> str:
        return f"{self.prefix}-{step}"


def _chalice_memory_sizes() -> dict[str, int]:
    config = json.loads((PROJECT_ROOT / ".chalice" / "config.json").read_text())
    return {name: cfg.get("lambda_memory_size", 128) for name, cfg in config.get("lambda_functions", {}).items()}


class LocalAws:
    """Start moto with the pipeline's resources; use as a context manager.

    Parameters
    ----------
    faults
        Errors to inject into steps (``etl run --fail``).
    wait_scale
        Fraction of each retry wait to really sleep (0: skip waits, keep them in the history).
    """

    def __init__(
        self,
        faults: list[Fault] | None = None,
        wait_scale: float = 0.0,
        names: ResourceNames | None = None,
        function_log_level: int = logging.WARNING,
    ) -> None:
        self.function_log_level = function_log_level
        self.names = names or ResourceNames()
        self.clock = VirtualClock(wait_scale)
        self.bridge = LambdaBridge(
            {self.names.function(step): (step, getattr(chalice_app, step)) for step in (*PIPELINE_STEPS, FAILURE_HANDLER)},
            faults,
        )
        self._stack = contextlib.ExitStack()
        self.state_machine_arn = ""
        self.queue_url = ""
        self.inbox_url = ""
        self.topic_arn = ""

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def __enter__(self) -> LocalAws:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        default_services.cache_clear()

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
        self._stack.enter_context(mock.patch.dict(os.environ, fake_credentials))
        self._stack.enter_context(mock_aws(config=MOTO_CONFIG))
        self._stack.enter_context(self.clock.installed())
        self._stack.enter_context(self.bridge.installed())
        self._stack.enter_context(redrive.installed())
        self._create_storage()
        self._create_state_machine(self._create_functions())
        self._stack.enter_context(mock.patch.dict(os.environ, self.function_environment()))
        default_services.cache_clear()

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
        handler = function_logger.registered_handler
        previous = (function_logger.log_level, handler.stream)
        function_logger.setLevel(self.function_log_level)
        handler.setStream(sys.stderr)
        self._stack.callback(lambda: (function_logger.setLevel(previous[0]), handler.setStream(previous[1])))

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
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn)

    def _create_functions(self) -> dict[str, str]:
        role = self.client("iam").create_role(
            RoleName=f"{self.names.prefix}-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "# the bridge runs the real handlers in-process\n")
        memory = _chalice_memory_sizes()
        arns = {}
        lam = self.client("lambda")
        for step in (*PIPELINE_STEPS, FAILURE_HANDLER):
            arns[step] = lam.create_function(
                FunctionName=self.names.function(step),
                Runtime="python3.12",
                Role=role,
                Handler=f"app.{step}",
                Code={"ZipFile": code.getvalue()},
                MemorySize=memory.get(step, 128),
                Architectures=["arm64"],
            )["FunctionArn"]
        return arns

    def definition_substitutions(self, function_arns: dict[str, str]) -> dict[str, str]:
        """Values for the definition's placeholders, as ``DefinitionSubstitutions`` gives them on AWS."""
        return {
            "IngestFunctionArn": function_arns["ingest"],
            "ValidateFunctionArn": function_arns["validate"],
            "TransformFunctionArn": function_arns["transform"],
            "OutputFunctionArn": function_arns["output"],
            "RunsTableName": self.names.runs_table,
            "DeadLetterQueueUrl": self.queue_url,
            "AlertsTopicArn": self.topic_arn,
        }

    def _create_state_machine(self, function_arns: dict[str, str]) -> None:
        definition = render(ETL_DEFINITION.read_text(), self.definition_substitutions(function_arns))
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=self.names.state_machine,
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{self.names.prefix}-states",
            type="STANDARD",
        )["stateMachineArn"]

    def start_execution(self, name: str, execution_input: dict[str, Any]) -> str:
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]

    def wait(self, execution_arn: str, timeout_seconds: float = 120.0, *, deliver_failure_event: bool = True) -> dict[str, Any]:
        """Wait for the execution to end; deliver the failure event EventBridge would.

        On AWS an EventBridge rule on "Step Functions Execution Status Change"
        invokes ``on_execution_failed``; moto emits no such events, so the same
        event is built here and sent to the same function.
        """
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_seconds
        while True:
            execution = sfn.describe_execution(executionArn=execution_arn)
            if execution["status"] in FINAL_STATUSES:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still {execution['status']} after {timeout_seconds} s")
            time.sleep(0.005)
        if deliver_failure_event and execution["status"] in FAILURE_STATUSES:
            self.client("lambda").invoke(
                FunctionName=self.names.function(FAILURE_HANDLER),
                Payload=json.dumps(status_change_event(execution), default=str).encode(),
            )
        return execution


def status_change_event(execution: dict[str, Any]) -> dict[str, Any]:
    """The "Step Functions Execution Status Change" event AWS sends for an execution."""
    detail = {
        "executionArn": execution["executionArn"],
        "stateMachineArn": execution["stateMachineArn"],
        "name": execution["name"],
        "status": execution["status"],
        "startDate": int(execution["startDate"].timestamp() * 1000),
        "stopDate": int(execution["stopDate"].timestamp() * 1000) if execution.get("stopDate") else None,
        "input": execution.get("input"),
        "output": execution.get("output"),
        "error": execution.get("error"),
        "cause": execution.get("cause"),
    }
    stopped = execution.get("stopDate") or execution["startDate"]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "time": stopped.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "region": REGION,
        "resources": [execution["executionArn"]],
        "detail": detail,
    }
