"""Alarms, to the alerts topic: one alert per thing that needs a person.

- A rejected file is announced once, by its dead letter (the dead-letter alarm fires on
  new arrivals); its run's notification goes to the notifications topic, and the
  failed-runs alarm counts executions that failed for any reason but a rejection.
- Queues alarm on messages sent to them in the period, not on messages waiting: a backlog
  that nobody has replayed yet does not hold the alarm in ALARM and hide new arrivals.
- Per function: errors, throttles, and a duration nearing the function's timeout; the run
  table's throttled reads and writes; events EventBridge could not deliver.
"""
from __future__ import annotations

from typing import Any

from chalicelib.failures import REJECTED_ERROR
from infra import permissions as p
from infra.chalice_project import function_config
from infra.naming import APP, stage_name
from infra.permissions import ref

PERIOD_SECONDS = 300
DURATION_ALARM_SHARE = 0.8  # of the function's timeout
RUNS_FAILED_METRIC = "RunsFailed"
METRIC_NAMESPACE = {"Fn::Sub": f"{APP}/${{Stage}}"}
# Step Functions' log events (level ERROR) for executions that did not succeed; a rejection is a Fail state named DataRejected.
RUNS_FAILED_PATTERN = (f'{{ ($.type = "ExecutionFailed" && $.details.error != "{REJECTED_ERROR}") '
                       '|| $.type = "ExecutionTimedOut" || $.type = "ExecutionAborted" }')


def alarm(suffix: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    """An alarm to the alerts topic that fires when the value exceeds its threshold (0 unless given)."""
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": stage_name(suffix), "AlarmDescription": description,
        "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching", "AlarmActions": [ref(p.TOPIC)],
        **properties,
    }}


def metric_alarm(suffix: str, description: str, namespace: Any, metric: str, dimensions: dict[str, Any],
                 statistic: str = "Sum", **settings: Any) -> dict[str, Any]:
    return alarm(suffix, description, {
        "Namespace": namespace, "MetricName": metric, "Statistic": statistic, "Period": PERIOD_SECONDS,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()], **settings})


def arrivals_alarm(suffix: str, description: str, queue: str) -> dict[str, Any]:
    """Messages sent to the queue in the period: fires on each new arrival, whatever already waits."""
    return metric_alarm(suffix, description, "AWS/SQS", "NumberOfMessagesSent",
                        {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}})


def _failed_runs() -> dict[str, Any]:
    return {
        "RunsFailedMetricFilter": {"Type": "AWS::Logs::MetricFilter", "Properties": {
            "LogGroupName": ref("StateMachineLogs"), "FilterPattern": RUNS_FAILED_PATTERN,
            "MetricTransformations": [{"MetricNamespace": METRIC_NAMESPACE, "MetricName": RUNS_FAILED_METRIC,
                                       "MetricValue": "1", "DefaultValue": 0}]}},
        "ExecutionsFailedAlarm": alarm(
            "executions-failed", "ETL executions failed, timed out or aborted (rejected files are announced by their dead letter)", {
                "Namespace": METRIC_NAMESPACE, "MetricName": RUNS_FAILED_METRIC, "Statistic": "Sum", "Period": PERIOD_SECONDS}),
    }


def _table_throttles() -> dict[str, Any]:
    metrics: list[dict[str, Any]] = [
        {"Id": metric.lower(), "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "AWS/DynamoDB", "MetricName": metric, "Dimensions": [{"Name": "TableName", "Value": ref(p.TABLE_NAME)}]},
            "Period": PERIOD_SECONDS, "Stat": "Sum"}}
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents")
    ]
    metrics.append({"Id": "throttled", "Expression": "SUM(METRICS())", "Label": "throttled requests", "ReturnData": True})
    return {"RunsTableThrottlesAlarm": alarm("runs-table-throttles", "Reads or writes of the run table throttled", {"Metrics": metrics})}


def function_alarms(stage: str, functions: dict[str, str], function_name: Any) -> dict[str, Any]:
    """Errors, throttles and a duration nearing the timeout, per function (logical id -> app.py name)."""
    resources: dict[str, Any] = {}
    for logical_id, function in functions.items():
        dimensions = {"FunctionName": function_name(function)}
        for metric in ("Errors", "Throttles"):
            resources[f"{logical_id}{metric}Alarm"] = metric_alarm(
                f"{logical_id.lower()}-{metric.lower()}", f"{logical_id} Lambda {metric.lower()}", "AWS/Lambda", metric, dimensions)
        timeout_ms = function_config(stage, function).lambda_timeout * 1000
        resources[f"{logical_id}DurationAlarm"] = metric_alarm(
            f"{logical_id.lower()}-duration", f"{logical_id} ran longer than {DURATION_ALARM_SHARE:.0%} of its {timeout_ms // 1000} s timeout",
            "AWS/Lambda", "Duration", dimensions, statistic="Maximum", Threshold=int(timeout_ms * DURATION_ALARM_SHARE))
    return resources


def rule_alarm(rule: str, description: str) -> dict[str, Any]:
    """Events the rule could not deliver to its target (after its retries; they are in the undelivered-events queue)."""
    return metric_alarm(f"{rule.lower()}-failed-invocations", description, "AWS/Events", "FailedInvocations", {"RuleName": ref(rule)})


def alarms(stage: str, functions: dict[str, str], function_name: Any) -> dict[str, Any]:
    return {
        **_failed_runs(),
        "DeadLettersAlarm": arrivals_alarm("dead-letters", "New dead letters: a rejected file or quarantined records", p.QUEUE),
        "UndeliveredEventsAlarm": arrivals_alarm(
            "undelivered-events", "An event EventBridge could not deliver (a run that did not start, a failure not recorded)",
            p.UNDELIVERED_EVENTS),
        "FailedInvocationsAlarm": arrivals_alarm(
            "failed-invocations", "The failure handler failed on every attempt: a failed run is not recorded", p.FAILED_INVOCATIONS),
        "StartRunRuleFailedInvocationsAlarm": rule_alarm("StartRunRule", "New objects whose run could not be started"),
        **_table_throttles(),
        **function_alarms(stage, functions, function_name),
    }
