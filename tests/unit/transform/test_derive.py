from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from chalicelib.transform.derive import derive


def table(**columns) -> pa.Table:
    return pa.table(columns)


@pytest.mark.parametrize(
    ("amount", "category"),
    [(0.0, "micro"), (9.99, "micro"), (10.0, "small"), (99.99, "small"), (100.0, "medium"),
     (999.99, "medium"), (1000.0, "large"), (1e9, "large")],
)
def test_transactions_amount_category_boundaries(registry, amount, category):
    spec = next(d for d in registry.get("transactions").derived if d["name"] == "amount_category")
    assert derive(spec, table(amount=[amount])).to_pylist() == [category]


def test_high_value_is_strictly_above_1000(registry):
    spec = next(d for d in registry.get("transactions").derived if d["name"] == "is_high_value")
    assert derive(spec, table(amount=[999.0, 1000.0, 1000.01])).to_pylist() == [False, False, True]


@pytest.mark.parametrize(("seconds", "category"), [(0, "short"), (59.9, "short"), (60, "medium"), (599, "medium"), (600, "long")])
def test_user_actions_session_category(registry, seconds, category):
    spec = next(d for d in registry.get("user_actions").derived if d["name"] == "session_category")
    assert derive(spec, table(session_duration_seconds=[float(seconds)])).to_pylist() == [category]


def test_date_is_the_utc_calendar_date():
    spec = {"name": "d", "kind": "date", "source": "ts"}
    stamps = pa.array([datetime(2024, 3, 14, 23, 59, tzinfo=UTC), datetime(2024, 3, 15, 0, 0, tzinfo=UTC)],
                      pa.timestamp("us", tz="UTC"))
    assert derive(spec, table(ts=stamps)).to_pylist() == [date(2024, 3, 14), date(2024, 3, 15)]


def test_metrics_anomaly_uses_each_metrics_range_and_never_flags_unknown_metrics(registry):
    spec = next(d for d in registry.get("metrics").derived if d["name"] == "is_anomaly")
    data = table(metric_name=["cpu_utilization", "cpu_utilization", "error_rate", "queue_depth", "latency_ms"],
                 value=[90.0, 90.5, 0.06, 1e12, -1.0])
    assert derive(spec, data).to_pylist() == [False, True, True, False, True]


def test_metrics_value_range(registry):
    spec = next(d for d in registry.get("metrics").derived if d["name"] == "value_range")
    assert derive(spec, table(value=[-0.5, 0.5, 50.0, 5000.0, 50000.0])).to_pylist() == [
        "negative", "fractional", "low", "medium", "high"]
