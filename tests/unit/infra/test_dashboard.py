"""The operator dashboard shows what the functions emit, and quality alarms watch the same metrics."""
from __future__ import annotations

import json

from bench.dataplane import run_stages
from chalicelib.observability import METRICS_NAMESPACE, SERVICE, metrics
from infra import permissions
from infra.dashboard import QUALITY_ALARM_METRIC, RECORD_METRICS, dashboard, dashboard_body
from infra.template import merge_template
from tests.conftest import SAMPLES, put_raw


def test_the_dashboard_graphs_each_datasets_records_quality_duration_and_size_and_the_executions():
    widgets = json.loads(dashboard_body(["transactions", "metrics"]))["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    per_dataset = ["records", "quality and outcomes", "seconds to output", "source bytes"]
    assert titles == ["Executions", *(f"{dataset}: {graph}" for dataset in ("transactions", "metrics") for graph in per_dataset)]
    records = widgets[1]["properties"]["metrics"]
    assert records == [[METRICS_NAMESPACE, name, "dataset", "transactions", "service", SERVICE] for name in RECORD_METRICS]
    assert widgets[0]["properties"]["metrics"][0][:2] == ["AWS/States", "ExecutionsStarted"]
    duration = widgets[3]["properties"]["metrics"]
    assert [(metric[1], metric[-1]["stat"]) for metric in duration] == [("SecondsToOutput", "Average"), ("SecondsToOutput", "Maximum")]
    assert widgets[4]["properties"]["metrics"] == [[METRICS_NAMESPACE, "SourceBytes", "dataset", "transactions", "service", SERVICE]]
    quality = [metric[1] for metric in widgets[2]["properties"]["metrics"]]
    # what the quality alarm watches, beside what it sums up
    assert quality == ["ChecksBreached", "Anomalies", QUALITY_ALARM_METRIC, "RunsRejected", "RunsSuperseded"]


def test_no_two_graphs_overlap():
    widgets = json.loads(dashboard_body(["transactions", "metrics", "user_actions"]))["widgets"]
    cells = [(w["x"] + dx, w["y"] + dy) for w in widgets for dx in range(w["width"]) for dy in range(w["height"])]
    assert len(cells) == len(set(cells))


def test_every_metric_a_run_emits_is_graphed(world, services):
    # GIVEN a run's metrics, as validate and output emit them
    metrics.clear_metrics()
    run_stages(services, put_raw(world, "raw/transactions/t.jsonl", (SAMPLES / "transactions.jsonl").read_bytes()),
               "arn:aws:states:us-east-1:123456789012:execution:etl:graphed")
    emitted = metrics.serialize_metric_set()
    metrics.clear_metrics()
    names = {metric["Name"] for metric in emitted["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    # THEN the dashboard graphs each of them for the dataset, on the dimensions they carry
    graphed = {tuple(metric[:6]) for widget in json.loads(dashboard_body(["transactions"]))["widgets"]
               for metric in widget["properties"]["metrics"]}
    assert {"SecondsToOutput", "SourceBytes"} <= names
    assert {(METRICS_NAMESPACE, name, "dataset", "transactions", "service", SERVICE) for name in names} <= graphed


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
