"""The operator's CloudWatch dashboard, and the alarms on each dataset's data quality.

The functions emit their figures as EMF metrics (``chalicelib.observability``:
namespace ``ServerlessEtl``, dimensions ``dataset`` and ``service``); the state
machine's own metrics come from ``AWS/States``.  One row for the executions, then
two rows of graphs per dataset: records in, valid, invalid and written beside checks
breached, anomalies and runs rejected or superseded; seconds from a run's start to
its output (average and maximum) beside the bytes of the source files read.  A run's
data-quality warning (breached ``warn`` checks and anomalies of a run that was not
rejected) alarms to the alerts topic, per dataset.  A rejected run adds nothing to
that alarm: its dead letter is its one alert, though its breached ``reject`` checks
still count in the graphs' ``ChecksBreached``.
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
# What the verdict emits for each run: the warnings its quality alert carried (0 for a rejected run, which alerts by its dead letter).
QUALITY_ALARM_METRIC = "QualityWarnings"
OUTCOME_METRICS = ("RunsRejected", "RunsSuperseded")
DURATION_METRIC, SIZE_METRIC = "SecondsToOutput", "SourceBytes"
EXECUTION_METRICS = ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
_WIDTH, _HEIGHT = 12, 6


def _metric(name: str, dataset: str, **rendering: str) -> list[Any]:
    """A graphed metric of ``dataset``; ``rendering`` (e.g. ``stat``, ``label``) overrides the graph's defaults."""
    return [METRICS_NAMESPACE, name, "dataset", dataset, "service", SERVICE, *([rendering] if rendering else [])]


def _graph(title: str, metrics: list[list[Any]], x: int, y: int, *, stat: str = "Sum") -> dict[str, Any]:
    return {"type": "metric", "x": x, "y": y, "width": _WIDTH, "height": _HEIGHT, "properties": {
        "title": title, "view": "timeSeries", "stat": stat, "period": 300, "region": "${AWS::Region}", "metrics": metrics}}


def _dataset_graphs(dataset: str, y: int) -> list[dict[str, Any]]:
    """Two rows of graphs of one dataset, from ``y`` down."""
    duration = [_metric(DURATION_METRIC, dataset, stat=stat, label=stat.lower()) for stat in ("Average", "Maximum")]
    return [
        _graph(f"{dataset}: records", [_metric(name, dataset) for name in RECORD_METRICS], 0, y),
        _graph(f"{dataset}: quality and outcomes",
               [_metric(name, dataset) for name in (*QUALITY_METRICS, QUALITY_ALARM_METRIC, *OUTCOME_METRICS)], _WIDTH, y),
        _graph(f"{dataset}: seconds to output", duration, 0, y + _HEIGHT, stat="Average"),
        _graph(f"{dataset}: source bytes", [_metric(SIZE_METRIC, dataset)], _WIDTH, y + _HEIGHT),
    ]


def dashboard_body(datasets: list[str]) -> str:
    """The dashboard's JSON, with ``${AWS::Region}`` and ``${StateMachine}`` left for ``Fn::Sub``."""
    executions = [["AWS/States", name, "StateMachineArn", "${StateMachine}"] for name in EXECUTION_METRICS]
    widgets = [_graph("Executions", executions, 0, 0)]
    for number, dataset in enumerate(datasets):
        widgets += _dataset_graphs(dataset, _HEIGHT + number * 2 * _HEIGHT)
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
