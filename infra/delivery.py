"""No lost events: what happens to an event that EventBridge or Lambda cannot deliver.

Both EventBridge targets (the start rule's state machine, the failure rule's function)
retry as their ``RetryPolicy`` says and then send the event to the undelivered-events
queue; the failure handler, invoked asynchronously, retries twice and then hands the
event to the failed-invocations queue (its on-failure destination).  Both queues are
KMS-encrypted and alarmed on new arrivals (:mod:`infra.alarms`).
"""
from __future__ import annotations

import copy
from typing import Any

from chalicelib.failures import FAILED_EXECUTIONS_PATTERN
from chalicelib.steps import FAILURE_HANDLER
from infra import permissions as p
from infra.alarms import rule_alarm
from infra.naming import APP, stage_name, tags
from infra.permissions import get_arn, ref

RETENTION_SECONDS = 14 * 24 * 3600
# EventBridge's own ceiling, explicit: a target that refuses events is retried for a day.
TARGET_RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 24 * 3600}
START_RULE = "StartRunRule"
FAILURE_RULE = "FailedExecutionsRule"


def _rules_of_this_stage() -> dict[str, Any]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{APP}-${{Stage}}-*"}


def dead_letter_target(target: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge target with the retry policy and the undelivered-events queue."""
    return {**target, "RetryPolicy": TARGET_RETRY_POLICY, "DeadLetterConfig": {"Arn": get_arn(p.UNDELIVERED_EVENTS)}}


def queues() -> dict[str, Any]:
    """The undelivered-events queue (both rules' DLQ), its policy, and the failed-invocations queue."""
    return {
        p.UNDELIVERED_EVENTS: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": stage_name("undelivered-events"), "MessageRetentionPeriod": RETENTION_SECONDS,
            "KmsMasterKeyId": ref(p.KEY), "Tags": tags("alerting")}},
        "UndeliveredEventsQueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [ref(p.UNDELIVERED_EVENTS)],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "ThisStagesRulesDeadLetterHere", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": get_arn(p.UNDELIVERED_EVENTS),
                "Condition": {"ArnLike": {"aws:SourceArn": _rules_of_this_stage()}}}]},
        }},
        p.FAILED_INVOCATIONS: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": stage_name("failed-invocations"), "MessageRetentionPeriod": RETENTION_SECONDS,
            "KmsMasterKeyId": ref(p.KEY), "Tags": tags("alerting")}},
    }


def failure_delivery() -> dict[str, Any]:
    """The rule that invokes the failure handler, its permission, and the handler's asynchronous settings.

    The handler is named by the ARN Chalice gives it, so the same resources serve the
    single stack (after the function) and the resources stack (once ``chalice deploy`` made it).
    """
    handler = p.function_arn(FAILURE_HANDLER)
    pattern: dict[str, Any] = copy.deepcopy(FAILED_EXECUTIONS_PATTERN)
    pattern["detail"]["stateMachineArn"] = [ref(p.MACHINE)]  # this state machine's executions only
    return {
        FAILURE_RULE: {"Type": "AWS::Events::Rule", "Properties": {
            "Name": stage_name("execution-failed"),
            "Description": "A failed, timed-out or aborted execution of this state machine invokes on_execution_failed",
            "EventPattern": pattern,
            "Targets": [dead_letter_target({"Id": FAILURE_HANDLER, "Arn": handler})],
        }},
        "FailedExecutionsRulePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": handler, "Principal": "events.amazonaws.com",
            "SourceArn": get_arn(FAILURE_RULE)}},
        "OnExecutionFailedInvokeConfig": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": handler, "Qualifier": "$LATEST",
            # Lambda's defaults, explicit; what still fails goes to the queue instead of being dropped.
            "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 6 * 3600,
            "DestinationConfig": {"OnFailure": {"Destination": get_arn(p.FAILED_INVOCATIONS)}},
        }},
        "FailedExecutionsRuleFailedInvocationsAlarm": rule_alarm(FAILURE_RULE, "Failed executions whose failure could not be recorded"),
    }
