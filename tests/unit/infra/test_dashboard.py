"""The operator dashboard shows what the functions emit, and quality alarms watch the same metrics."""
from __future__ import annotations

import json

from chalicelib.observability import METRICS_NAMESPACE, SERVICE
from infra import permissions
from infra.dashboard import QUALITY_ALARM_METRIC, RECORD_METRICS, dashboard, dashboard_body
from infra.template import merge_template


def test_the_dashboard_graphs_each_datasets_records_and_quality_and_the_executions():
    widgets = json.loads(dashboard_body(["transactions", "metrics"]))["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert titles == ["Executions", "transactions: records", "transactions: quality", "metrics: records", "metrics: quality"]
    records = widgets[1]["properties"]["metrics"]
    assert records == [[METRICS_NAMESPACE, name, "dataset", "transactions", "service", SERVICE] for name in RECORD_METRICS]
    assert widgets[0]["properties"]["metrics"][0][:2] == ["AWS/States", "ExecutionsStarted"]
    quality = [metric[1] for metric in widgets[2]["properties"]["metrics"]]
    assert quality == ["ChecksBreached", "Anomalies", QUALITY_ALARM_METRIC]  # what the quality alarm watches, beside what it sums up


def test_the_dashboard_is_in_the_stack_and_names_its_state_machine():
    resources = merge_template()["Resources"]
    body, variables = resources["OperatorDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert "${StateMachine}" in body and variables == {"StateMachine": {"Ref": permissions.MACHINE}}


def test_a_quality_alarm_per_dataset_on_the_emitted_metric_and_dimensions():
    alarms = {k: v for k, v in dashboard(["user_actions"]).items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {"UserActionsQualityWarningsAlarm"}
    properties = alarms["UserActionsQualityWarningsAlarm"]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (METRICS_NAMESPACE, QUALITY_ALARM_METRIC)
    assert properties["Dimensions"] == [{"Name": "dataset", "Value": "user_actions"}, {"Name": "service", "Value": SERVICE}]
    # validate emits it: tests/unit/validate/test_quality.py shows what it counts
