"""A run against its dataset's recent history: row count, invalid share and null shares far from usual.

For each figure, the recent runs' median and median absolute deviation (MAD, scaled
by 1.4826 to estimate a standard deviation robustly) describe what is usual.  A
run is anomalous when a figure lies more than :data:`THRESHOLD` of those spreads
from the median, and by more than a floor that keeps a very regular history from
flagging noise (a tenth of the median rows, two points of a share).  Nothing is
flagged while the history is shorter than :data:`MIN_HISTORY` runs.
"""
from __future__ import annotations

import statistics
from typing import TypedDict

from chalicelib.quality.profile import QualityProfile

HISTORY_RUNS = 20  # the runs compared with: the dataset's last successful ones
MIN_HISTORY = 5
THRESHOLD = 5.0
_MAD_TO_SIGMA = 1.4826
_SHARE_FLOOR = 0.02
_ROWS_FLOOR = 0.1  # of the median


class Anomaly(TypedDict):
    """A figure far from the dataset's recent runs, and why it was flagged."""

    metric: str
    value: float
    median: float
    spread: float
    reason: str


def _figures(profile: QualityProfile) -> dict[str, float]:
    figures = {"rows": float(profile["valid"]), "invalid_share": profile["invalid_share"]}
    figures.update({f"null_share.{name}": field.get("null_share", 0.0) for name, field in profile["fields"].items()})
    return figures


def anomalies(profile: QualityProfile, history: list[QualityProfile]) -> list[Anomaly]:
    """The figures of ``profile`` that lie far outside ``history`` (none while it is short)."""
    if len(history) < MIN_HISTORY:
        return []
    past = [_figures(earlier) for earlier in history]
    found = []
    for metric, value in _figures(profile).items():
        values = [figures[metric] for figures in past if metric in figures]
        if len(values) < MIN_HISTORY:
            continue
        median = statistics.median(values)
        spread = _MAD_TO_SIGMA * statistics.median(abs(v - median) for v in values)
        floor = _ROWS_FLOOR * median if metric == "rows" else _SHARE_FLOOR
        if abs(value - median) > max(THRESHOLD * spread, floor):
            side = "above" if value > median else "below"
            found.append(Anomaly(metric=metric, value=value, median=median, spread=round(spread, 6), reason=(
                f"{metric} {value:g} is far {side} the median {median:g} of the last {len(values)} runs "
                f"(spread {spread:g})")))
    return found
