"""Validate judges each run's quality: declared checks warn or reject, anomalies against history alert (issue 15)."""
from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from chalicelib.config import DEFAULT_SCHEMAS_DIR
from chalicelib.datasets import DatasetRegistry
from chalicelib.output import output
from chalicelib.quality.anomalies import MIN_HISTORY
from tests.seed import put_run
from tests.unit.validate.test_stage import good, run_validate


def alerts(world) -> list[dict]:
    sqs, found = world.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=world.inbox_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message(QueueUrl=world.inbox_url, ReceiptHandle=message["ReceiptHandle"])
    return found


@pytest.fixture
def with_checks(tmp_path, services):
    """The services with the transactions dataset's checks replaced."""
    def make(checks: list[dict]):
        shutil.copy(DEFAULT_SCHEMAS_DIR / "transactions.schema.json", tmp_path)
        spec = json.loads((DEFAULT_SCHEMAS_DIR / "transactions.transform.json").read_text())
        (tmp_path / "transactions.transform.json").write_text(json.dumps({**spec, "checks": checks}))
        return dataclasses.replace(services, datasets=DatasetRegistry(tmp_path))
    return make


def test_every_run_records_its_quality(world, services):
    state = run_validate(world, services, [json.dumps(good(i)) for i in range(10)])
    quality = services.runs.get(state["run"]["run_id"])["quality"]
    assert quality["valid"] == 10 and quality["key"] == "transaction_id" and quality["duplicate_share"] == 0
    assert quality["fields"]["amount"]["max"] == 9 and {c["check"] for c in quality["checks"]} == {
        "min_rows", "max_duplicate_share", "max_null_share"}


def test_a_breached_warn_check_writes_the_data_flags_the_run_and_alerts(world, with_checks):
    services = with_checks([{"check": "max_duplicate_share", "limit": 0, "on_breach": "warn"}])
    state = run_validate(world, services, [json.dumps(good(1))] * 3)
    assert state["outcome"]["verdict"] == "ACCEPTED" and alerts(world) == []  # told once the data is written
    output(state, services)
    [check] = services.runs.get(state["run"]["run_id"])["quality"]["checks"]
    assert check["breached"] and check["value"] == pytest.approx(2 / 3, abs=1e-6)
    [alert] = alerts(world)
    assert alert["status"] == "QUALITY_WARNING" and alert["warnings"] == ["max_duplicate_share is 0.666667, limit 0"]


def test_a_breached_reject_check_rejects_the_run_as_the_invalid_ratio_does(world, with_checks):
    services = with_checks([{"check": "min_rows", "limit": 100, "on_breach": "reject"}])
    state = run_validate(world, services, [json.dumps(good(i)) for i in range(10)])
    assert state["outcome"]["verdict"] == "REJECTED"
    assert state["outcome"]["reason"] == "data quality checks breached: min_rows is 10, limit 100"
    assert alerts(world) == []  # the state machine announces rejections (and dead-letters them)


def test_a_run_far_from_its_history_is_flagged_and_alerted(world, services):
    # GIVEN the dataset's last runs each wrote about a thousand records
    for i in range(MIN_HISTORY + 3):
        put_run(services, f"past-{i}", status="SUCCEEDED", dataset="transactions", started_at=f"2024-03-1{i}T08:00:00.000Z",
                quality={"valid": 1000 + i, "invalid_share": 0.0, "fields": {"merchant": {"null_share": 0.0}}})
    # WHEN a run of 5 records is validated
    state = run_validate(world, services, [json.dumps({**good(i), "merchant": "m"}) for i in range(5)])
    output(state, services)
    # THEN its row count is an anomaly, recorded with the reason and alerted
    [anomaly] = services.runs.get(state["run"]["run_id"])["quality"]["anomalies"]
    assert anomaly["metric"] == "rows" and "far below the median" in anomaly["reason"]
    [alert] = alerts(world)
    assert any(warning.startswith("anomaly: rows 5") for warning in alert["warnings"])


def test_no_anomaly_while_the_history_is_short(world, services):
    for i in range(MIN_HISTORY - 1):
        put_run(services, f"past-{i}", status="SUCCEEDED", dataset="transactions", started_at=f"2024-03-1{i}T08:00:00.000Z",
                quality={"valid": 1000, "invalid_share": 0.0, "fields": {}})
    state = run_validate(world, services, [json.dumps({**good(i), "merchant": "m"}) for i in range(5)])
    assert services.runs.get(state["run"]["run_id"])["quality"]["anomalies"] == [] and alerts(world) == []


def test_the_verdict_and_output_add_the_datasets_metrics(world, services):
    from chalicelib.observability import metrics

    metrics.clear_metrics()
    state = run_validate(world, services, [json.dumps(good(i)) for i in range(4)] + [json.dumps({**good(9), "amount": -1})])
    output(state, services)
    emitted = metrics.serialize_metric_set()
    assert emitted["dataset"] == "transactions" and emitted["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ServerlessEtl"
    assert [emitted[name] for name in ("RecordsIn", "RecordsValid", "RecordsInvalid", "RecordsWritten")] == [[5.0], [4.0], [1.0], [4.0]]
    assert emitted["ChecksBreached"] == [1.0] and emitted["Anomalies"] == [0.0]  # no merchant at all: its null check breached
    assert emitted["SourceBytes"][0] > 0
    metrics.clear_metrics()


def test_metrics_switched_off_are_neither_kept_nor_printed(monkeypatch, capsys):
    from chalicelib.observability import COUNT, emit_metrics, metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(150):  # Powertools prints a metric set once a metric has 100 values, switched off or not
        emit_metrics("transactions", {"RecordsIn": (1, COUNT)})
    assert metrics.metric_set == {} and capsys.readouterr().out == ""


@pytest.mark.parametrize("checks, verdict, breached, counted", [
    # a reject check breached: the run is rejected, and its dead letter is its one alert
    ([{"check": "max_duplicate_share", "limit": 0, "on_breach": "reject"}], "REJECTED", 1, 0),
    # a warn check breached with a reject check: rejected all the same, so neither counts
    ([{"check": "max_duplicate_share", "limit": 0, "on_breach": "warn"}, {"check": "min_rows", "limit": 100, "on_breach": "reject"}],
     "REJECTED", 2, 0),
    # a warn check breached alone: the data is written, and the alarm counts the warning (the one its alert carries)
    ([{"check": "max_duplicate_share", "limit": 0, "on_breach": "warn"}], "ACCEPTED", 1, 1),
])
def test_the_quality_alarm_counts_the_warnings_of_written_runs_only(world, with_checks, checks, verdict, breached, counted):
    from chalicelib.observability import metrics
    from infra.dashboard import QUALITY_ALARM_METRIC

    metrics.clear_metrics()
    state = run_validate(world, with_checks(checks), [json.dumps(good(1))] * 3)
    emitted = metrics.serialize_metric_set()
    metrics.clear_metrics()
    assert state["outcome"]["verdict"] == verdict and emitted["ChecksBreached"] == [breached]  # graphed: every breach
    assert emitted[QUALITY_ALARM_METRIC] == [counted]
