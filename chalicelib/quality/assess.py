"""A run's profile judged: the dataset's declared checks and its recent history."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.quality.anomalies import Anomaly, anomalies
from chalicelib.quality.checks import Check, CheckResult, judge, rejection, warnings
from chalicelib.quality.profile import QualityProfile


class Quality(QualityProfile):
    """What the run record holds as ``quality``: the profile, each check judged, the anomalies found."""

    checks: list[CheckResult]
    anomalies: list[Anomaly]


@dataclass(frozen=True)
class Assessment:
    quality: Quality
    rejection: str | None  # a check with on_breach "reject" breached
    warnings: list[str]  # breached "warn" checks and anomalies, for the alert


def assess(checks: list[Check], profile: QualityProfile, history: list[QualityProfile]) -> Assessment:
    """Judge ``profile`` by the dataset's checks and against ``history`` (its recent successful runs, newest first)."""
    results = judge(checks, profile)
    found = anomalies(profile, history)
    quality = Quality(**profile, checks=results, anomalies=found)
    return Assessment(quality, rejection(results),
                      [*warnings(results), *(f"anomaly: {anomaly['reason']}" for anomaly in found)])
