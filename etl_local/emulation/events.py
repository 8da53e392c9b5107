"""EventBridge deliveries moto does not make, made here as AWS makes them.

moto evaluates rules but delivers only to log groups, queues, buses and API
destinations: a rule targeting a state machine or a Lambda function does
nothing (S3 swallows the error).  And moto's Step Functions never emits
"Step Functions Execution Status Change" events.  This bridge starts
executions and invokes functions for such targets, and emits the status
event each time an execution ends (after a redrive too).

Deliveries fail as on AWS, and what fails is kept as AWS keeps it: a target that refuses
the event (a state machine that cannot start, a function that cannot be invoked) is tried
again as its ``RetryPolicy`` says, then the event goes to the target's ``DeadLetterConfig``
queue; a function that fails on every asynchronous attempt hands the event to the
on-failure destination of its event invoke configuration.  Only without either is it
dropped (and counted in :attr:`EventBridgeBridge.dropped`).  Retries are not waited for.
"""
from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.events.models import Rule, events_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

LOG = logging.getLogger(__name__)
_BRIDGED_SERVICES = {"states", "lambda"}
# AWS Lambda retries an asynchronous invocation that fails twice, about a minute and then two
# minutes later, and then drops the event (or hands it to the function's on-failure destination).
ASYNC_RETRY_DELAYS_SECONDS = (60.0, 120.0)
# EventBridge's default retry policy for a target that refuses an event: 185 attempts (over 24 hours).
DEFAULT_TARGET_RETRIES = 185


class DeliveryRefused(RuntimeError):
    """A target did not accept an event (the state machine did not start, the function was not invoked)."""


def status_change_event(execution: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """The "Step Functions Execution Status Change" event AWS sends, from a ``DescribeExecution`` answer."""
    def millis(moment: datetime | None) -> int | None:
        return int(moment.timestamp() * 1000) if moment else None

    stopped = execution.get("stopDate") or execution["startDate"]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "time": stopped.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "region": region,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": millis(execution["startDate"]),
            "stopDate": millis(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


def _aws_shaped(event: dict[str, Any]) -> dict[str, Any]:
    """moto's S3 events carry ``time`` as epoch seconds; AWS sends ISO 8601."""
    if isinstance(event.get("time"), int | float):
        event = {**event, "time": datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return event


def _send_to_queue(queue_arn: str, body: str, attributes: dict[str, str]) -> None:
    arn = parse_arn(queue_arn)
    sqs_backends[arn.account][arn.region].send_message(
        arn.resource_id, body, message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()})


def _invocation_record(function: LambdaFunction, payload: str, response: Any, attempts: int) -> dict[str, Any]:
    """What AWS Lambda sends an on-failure destination: the request, the last response, why it gave up."""
    try:
        answer = json.loads(response) if isinstance(response, str | bytes) else response
    except ValueError:
        answer = response
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{function.function_arn}:$LATEST",
                           "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
        "requestPayload": json.loads(payload),
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": answer,
    }


class EventBridgeBridge:
    """Delivers to state machine and Lambda targets; emits execution status events."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._ended: Counter[str] = Counter()
        self._condition = threading.Condition()
        self._sleep = sleep  # the world's virtual clock: retry delays move its time, not the test's
        self.dropped: list[tuple[str, dict[str, Any]]] = []  # (function ARN, event) whose every attempt failed

    def deliver(self, target: dict[str, Any], event: dict[str, Any], rule_arn: str = "") -> None:
        """Deliver ``event`` to ``target`` of the rule ``rule_arn``, with the target's retries and dead-letter queue."""
        payload = json.dumps(_aws_shaped(event))
        attempts = 1 + int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", DEFAULT_TARGET_RETRIES))
        for attempt in range(1, attempts + 1):
            try:
                function = self._accept(target["Arn"], payload)
            except DeliveryRefused as refusal:
                if attempt == attempts:
                    self._dead_letter(target, payload, rule_arn, refusal, attempt)
                continue
            if function is not None:
                self._invoke_asynchronously(function, payload)
            return

    def _accept(self, target_arn: str, payload: str) -> LambdaFunction | None:
        """Hand the event to the target: start the execution, or find the function to invoke.

        Raises
        ------
        DeliveryRefused
            When the target does not take the event (what EventBridge retries).
        """
        arn = parse_arn(target_arn)
        try:
            if arn.service == "states":
                # EventBridge names the executions it starts with a random id.
                stepfunctions_backend(arn.account, arn.region).start_execution(target_arn, name=str(uuid.uuid4()), execution_input=payload)
                return None
            return lambda_backends[arn.account][arn.region].get_function(target_arn)
        except Exception as error:
            raise DeliveryRefused(f"{type(error).__name__}: {error}") from error

    def _dead_letter(self, target: dict[str, Any], payload: str, rule_arn: str, refusal: DeliveryRefused, attempts: int) -> None:
        """The event, with the attributes EventBridge adds, to the target's dead-letter queue (else dropped)."""
        queue = target.get("DeadLetterConfig", {}).get("Arn")
        if not queue:
            LOG.error("EventBridge could not deliver to %s (%s); the event is dropped", target["Arn"], refusal)
            self.dropped.append((target["Arn"], json.loads(payload)))
            return
        code, _, message = str(refusal).partition(": ")
        attributes = {"RULE_ARN": rule_arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": code, "ERROR_MESSAGE": message,
                      "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttemptsExhausted", "RETRY_ATTEMPTS": str(attempts - 1)}
        _send_to_queue(queue, payload, attributes)

    def _invoke_asynchronously(self, function: LambdaFunction, payload: str) -> None:
        """Invoke as AWS Lambda invokes an event target: retried (twice by default) when the function fails,
        then handed to the function's on-failure destination, if it has one."""
        config = function.event_invoke_config[0].config if function.event_invoke_config else {}
        retries = ASYNC_RETRY_DELAYS_SECONDS[:int(config.get("MaximumRetryAttempts", len(ASYNC_RETRY_DELAYS_SECONDS)))]
        for attempt, delay in enumerate((*retries, None), start=1):
            answer: dict[str, str] = {}
            response = function.invoke(payload, {}, answer)
            if "x-amz-function-error" not in answer:
                return
            if delay is None:
                destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                if destination:
                    _send_to_queue(destination, json.dumps(_invocation_record(function, payload, response, attempt)), {})
                    return
                LOG.error("%s failed on every attempt; the event is dropped", function.function_arn)
                self.dropped.append((function.function_arn, json.loads(payload)))
                return
            self._sleep(delay)

    def emit_status_change(self, communication: BaseExecutionWorkerCommunication) -> None:
        execution = communication.execution
        described = {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine.arn,
            "name": execution.name,
            "status": execution.exec_status.value,
            "startDate": execution.start_date,
            "stopDate": execution.stop_date,
            "input": json.dumps(execution.input_data),
            "output": json.dumps(execution.output) if execution.output is not None else None,
            "error": execution.error,
            "cause": execution.cause,
        }
        event = status_change_event(described, execution.account_id, execution.region_name)
        try:
            for bus in events_backends[execution.account_id][execution.region_name].event_buses.values():
                for rule in list(bus.rules.values()):
                    rule.send_to_targets(event, transform_input=False)
        finally:
            with self._condition:
                self._ended[execution.exec_arn] += 1
                self._condition.notify_all()

    def wait_for_status_events(self, execution_arn: str, count: int, timeout_seconds: float) -> None:
        """Block until ``count`` endings of the execution have been announced (and handled)."""
        deadline = time.monotonic() + timeout_seconds
        with self._condition:
            while self._ended[execution_arn] < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no status-change event for {execution_arn} after {timeout_seconds} s")
                self._condition.wait(remaining)

    @contextlib.contextmanager
    def installed(self) -> Iterator[EventBridgeBridge]:
        bridge = self
        send_to_targets = Rule.send_to_targets
        terminated = BaseExecutionWorkerCommunication.terminated

        def send(rule: Rule, event: dict[str, Any], transform_input: bool = True) -> None:
            if not rule.event_pattern.matches_event(event):
                return
            bridged = [t for t in rule.targets if parse_arn(t["Arn"]).service in _BRIDGED_SERVICES]
            if len(bridged) < len(rule.targets):
                rest = copy.copy(rule)
                rest.targets = [t for t in rule.targets if t not in bridged]
                send_to_targets(rest, event, transform_input)
            for target in bridged:
                bridge.deliver(target, event, rule.arn)

        def ended(communication: BaseExecutionWorkerCommunication) -> None:
            terminated(communication)
            bridge.emit_status_change(communication)

        with mock.patch.object(Rule, "send_to_targets", send), \
                mock.patch.object(BaseExecutionWorkerCommunication, "terminated", ended):
            yield self
