"""Anomalies against synthetic histories: flagged far outside, quiet within the spread and while history is short."""
from __future__ import annotations

from chalicelib.quality.anomalies import MIN_HISTORY, anomalies


def profile(rows: int, invalid_share: float = 0.01, merchant_nulls: float = 0.1) -> dict:
    return {"valid": rows, "invalid_share": invalid_share, "fields": {"merchant": {"null_share": merchant_nulls}}}


HISTORY = [profile(rows) for rows in (1000, 1010, 990, 1005, 995, 1020, 980, 1000, 1003, 997)]


def test_a_usual_run_is_not_flagged():
    assert anomalies(profile(1012, 0.012, 0.11), HISTORY) == []  # type: ignore[arg-type]


def test_half_the_usual_rows_is_flagged_with_the_reason():
    [found] = anomalies(profile(500), HISTORY)  # type: ignore[arg-type]
    assert found["metric"] == "rows" and found["value"] == 500 and found["median"] == 1000
    assert "far below the median 1000 of the last 10 runs" in found["reason"]


def test_a_column_suddenly_empty_and_a_jump_in_invalid_records_are_flagged():
    metrics = {found["metric"] for found in anomalies(profile(1000, 0.3, 1.0), HISTORY)}  # type: ignore[arg-type]
    assert metrics == {"invalid_share", "null_share.merchant"}


def test_nothing_is_flagged_while_the_history_is_short():
    assert anomalies(profile(1), HISTORY[: MIN_HISTORY - 1]) == []  # type: ignore[arg-type]
    assert anomalies(profile(1), HISTORY[:MIN_HISTORY]) != []  # type: ignore[arg-type]


def test_a_perfectly_regular_history_does_not_flag_noise():
    regular = [profile(1000, 0.0, 0.0)] * 10
    assert anomalies(profile(1040, 0.01, 0.01), regular) == []  # type: ignore[arg-type]  # within the floors
    assert anomalies(profile(1200), regular) != []  # type: ignore[arg-type]
