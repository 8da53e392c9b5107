"""The operator's CloudWatch dashboard, and the alarms on each dataset's data quality.

The functions emit their figures as EMF metrics (``chalicelib.observability``:
namespace ``ServerlessEtl``, dimensions ``dataset`` and ``service``); the state
machine's own metrics come from ``AWS/States``.  One row of graphs per dataset
(records in, valid, invalid and written; checks breached and anomalies), one row
for the executions.  A run's data-quality warning (breached ``warn`` checks and
anomalies of a run that was not rejected) alarms to the alerts topic, per dataset.
A rejected run adds nothing to that alarm: its dead letter is its one alert, though
its breached ``reject`` checks still count in the graphs' ``ChecksBreached``.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.observability import METRICS_NAMESPACE, SERVICE
from infra import permissions as p
from infra.alarms import metric_alarm
from infra.naming import stage_name
from infra.permissions import ref

RECORD_METRICS = ("RecordsIn", "RecordsValid", "RecordsInvalid", "RecordsWritten")
QUALITY_METRICS = ("ChecksBreached", "Anomalies")  # graphed: every breach (warn or reject) and anomaly
# What validate emits for each run: the warnings its quality alert carried (0 for a rejected run, which alerts by its dead letter).
QUALITY_ALARM_METRIC = "QualityWarnings"
EXECUTION_METRICS = ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
_WIDTH, _HEIGHT = 12, 6


def _metric(name: str, dataset: str) -> list[str]:
    return [METRICS_NAMESPACE, name, "dataset", dataset, "service", SERVICE]


def _graph(title: str, metrics: list[list[Any]], x: int, y: int) -> dict[str, Any]:
    return {"type": "metric", "x": x, "y": y, "width": _WIDTH, "height": _HEIGHT, "properties": {
        "title": title, "view": "timeSeries", "stat": "Sum", "period": 300, "region": "${AWS::Region}", "metrics": metrics}}


def dashboard_body(datasets: list[str]) -> str:
    """The dashboard's JSON, with ``${AWS::Region}`` and ``${StateMachine}`` left for ``Fn::Sub``."""
    executions = [["AWS/States", name, "StateMachineArn", "${StateMachine}"] for name in EXECUTION_METRICS]
    widgets = [_graph("Executions", executions, 0, 0)]
    for row, dataset in enumerate(datasets, start=1):
        widgets.append(_graph(f"{dataset}: records", [_metric(name, dataset) for name in RECORD_METRICS], 0, row * _HEIGHT))
        widgets.append(_graph(f"{dataset}: quality", [_metric(name, dataset) for name in (*QUALITY_METRICS, QUALITY_ALARM_METRIC)],
                              _WIDTH, row * _HEIGHT))
    return json.dumps({"widgets": widgets}, separators=(",", ":"))


def dashboard(datasets: list[str]) -> dict[str, Any]:
    """The dashboard resource and a data-quality alarm per dataset."""
    resources: dict[str, Any] = {"OperatorDashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": stage_name("operator-${AWS::Region}"),  # dashboards are global: a DR region's stack has its own
        "DashboardBody": {"Fn::Sub": [dashboard_body(datasets), {"StateMachine": ref(p.MACHINE)}]},
    }}}
    for dataset in datasets:
        logical_id = "".join(part.capitalize() for part in dataset.split("_")) + f"{QUALITY_ALARM_METRIC}Alarm"
        resources[logical_id] = metric_alarm(
            f"{dataset.replace('_', '-')}-quality-warnings",
            f"{dataset}: a run's data was written with a warning (a breached warn check, or rows, invalid share or null shares "
            "far from its recent runs)", METRICS_NAMESPACE, QUALITY_ALARM_METRIC, {"dataset": dataset, "service": SERVICE})
    return resources
