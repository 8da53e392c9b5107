"""EventBridge deliveries moto does not make, made here as AWS makes them.

moto evaluates rules but delivers only to log groups, queues, buses and API
destinations: a rule targeting a state machine or a Lambda function does
nothing (S3 swallows the error).  And moto's Step Functions never emits
"Step Functions Execution Status Change" events.  This bridge starts
executions and invokes functions for such targets, and emits the status
event each time an execution ends (after a redrive too).
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

from moto.awslambda.models import lambda_backends
from moto.events.models import Rule, events_backends
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

LOG = logging.getLogger(__name__)
_BRIDGED_SERVICES = {"states", "lambda"}
# AWS Lambda retries an asynchronous invocation that fails twice, about a minute and then two
# minutes later, and then drops the event (or hands it to the function's on-failure destination).
ASYNC_RETRY_DELAYS_SECONDS = (60.0, 120.0)


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


class EventBridgeBridge:
    """Delivers to state machine and Lambda targets; emits execution status events."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._ended: Counter[str] = Counter()
        self._condition = threading.Condition()
        self._sleep = sleep  # the world's virtual clock: retry delays move its time, not the test's
        self.dropped: list[tuple[str, dict[str, Any]]] = []  # (function ARN, event) whose every attempt failed

    def deliver(self, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = parse_arn(target["Arn"])
        payload = json.dumps(_aws_shaped(event))
        try:
            if arn.service == "states":
                # EventBridge names the executions it starts with a random id.
                stepfunctions_backend(arn.account, arn.region).start_execution(target["Arn"], name=str(uuid.uuid4()), execution_input=payload)
            else:
                self._invoke_asynchronously(target["Arn"], payload)
        except Exception:
            LOG.exception("EventBridge could not deliver to %s", target["Arn"])

    def _invoke_asynchronously(self, function_arn: str, payload: str) -> None:
        """Invoke as AWS Lambda invokes an event target: retried twice when the function fails."""
        arn = parse_arn(function_arn)
        function = lambda_backends[arn.account][arn.region].get_function(function_arn)
        for delay in (*ASYNC_RETRY_DELAYS_SECONDS, None):
            answer: dict[str, str] = {}
            function.invoke(payload, {}, answer)
            if "x-amz-function-error" not in answer:
                return
            if delay is None:
                LOG.error("%s failed on every attempt; the event is dropped", function_arn)
                self.dropped.append((function_arn, json.loads(payload)))
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
                bridge.deliver(target, event)

        def ended(communication: BaseExecutionWorkerCommunication) -> None:
            terminated(communication)
            bridge.emit_status_change(communication)

        with mock.patch.object(Rule, "send_to_targets", send), \
                mock.patch.object(BaseExecutionWorkerCommunication, "terminated", ended):
            yield self
