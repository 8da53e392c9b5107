"""The readable summary of a run shows its quality in a line, and each breached check and anomaly (issue 15)."""
from __future__ import annotations

from etl_local.views import quality_lines

QUALITY = {
    "records": 30, "valid": 28, "invalid": 2, "invalid_share": 0.066667,
    "top_rules": [{"rule": "minimum", "records": 1}, {"rule": "pattern", "records": 1}],
    "fields": {}, "newest_event": "2024-03-15T18:45:00.000Z", "freshness_seconds": 7200.0,
    "key": "transaction_id", "duplicate_share": 0.0,
    "checks": [{"check": "min_rows", "field": None, "limit": 1, "value": 28, "on_breach": "reject", "breached": False},
               {"check": "max_null_share", "field": "merchant", "limit": 0.175, "value": 0.178571, "on_breach": "warn",
                "breached": True}],
    "anomalies": [{"metric": "rows", "value": 28, "median": 2000, "spread": 12.0,
                   "reason": "rows 28 is far below the median 2000 of the last 20 runs (spread 12)"}],
}


def test_a_runs_quality_its_breached_checks_and_anomalies_each_take_a_line():
    assert quality_lines(QUALITY) == [
        "  quality: 6.7% invalid (minimum 1, pattern 1), 0% duplicate transaction_id, freshness 2 h, 1 of 2 checks breached, 1 anomaly",
        "  breached (warn): max_null_share(merchant) is 0.178571, limit 0.175",
        "  anomaly: rows 28 is far below the median 2000 of the last 20 runs (spread 12)",
    ]


def test_figures_a_run_lacks_are_left_out():
    bare = {**QUALITY, "invalid_share": 0.0, "top_rules": [], "key": None, "duplicate_share": None, "freshness_seconds": None,
            "checks": [], "anomalies": []}
    assert quality_lines(bare) == ["  quality: 0% invalid, no checks, no anomalies"]
    assert quality_lines(None) == []  # a run refused before validation has no profile
