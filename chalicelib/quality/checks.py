"""Checks a dataset declares in its transform spec (``checks``), judged against a run's profile.

Each check compares one figure of the profile with a limit and says what a breach
does: ``warn`` (the data is written, the run is flagged and an alert goes out) or
``reject`` (the run is rejected as by ``max_invalid_ratio``: nothing is written,
the dead-letter queue gets the message).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from chalicelib.errors import ConfigurationError
from chalicelib.quality.profile import QualityProfile

OnBreach = Literal["warn", "reject"]
# check name -> (the profile figure it reads, whether the limit is a floor; else a ceiling)
_FIGURES: dict[str, tuple[Callable[[QualityProfile, str | None], float | None], bool]] = {
    "min_rows": (lambda profile, _: profile["valid"], True),
    "max_rows": (lambda profile, _: profile["valid"], False),
    "max_invalid_share": (lambda profile, _: profile["invalid_share"], False),
    "max_duplicate_share": (lambda profile, _: profile["duplicate_share"], False),
    "max_null_share": (lambda profile, field: profile["fields"][field or ""]["null_share"], False),
    "max_freshness_seconds": (lambda profile, _: profile["freshness_seconds"], False),
}
CHECK_NAMES = tuple(_FIGURES)


class CheckResult(TypedDict):
    """One declared check, judged: the figure it read and whether it breached its limit."""

    check: str
    field: str | None
    limit: float
    value: float | None
    on_breach: OnBreach
    breached: bool


@dataclass(frozen=True)
class Check:
    check: str
    limit: float
    on_breach: OnBreach
    field: str | None = None

    def judge(self, profile: QualityProfile) -> CheckResult:
        figure, is_floor = _FIGURES[self.check]
        value = figure(profile, self.field)
        breached = value is not None and (value < self.limit if is_floor else value > self.limit)
        return CheckResult(check=self.check, field=self.field, limit=self.limit, value=value, on_breach=self.on_breach,
                           breached=breached)


def declared_key(dataset: str, spec: dict[str, Any], properties: dict[str, Any]) -> str | None:
    """The field that identifies a record (``key``), checked against the schema's properties."""
    key = spec.get("key")
    if key is not None and key not in properties:
        raise ConfigurationError(f"dataset {dataset}: key {key!r} is not a property of its schema")
    return key


def declared_checks(dataset: str, spec: dict[str, Any], properties: dict[str, Any]) -> list[Check]:
    """The dataset's ``checks``, each naming a field its schema has (the spec's JSON Schema checked the rest).

    Raises
    ------
    ConfigurationError
        Naming the dataset and the check or field that cannot be judged.
    """
    checks = []
    for number, declared in enumerate(spec.get("checks", []), 1):
        field = declared.get("field")
        if declared["check"] == "max_null_share" and field not in properties:
            raise ConfigurationError(f"dataset {dataset}: check {number} (max_null_share) names field {field!r}, "
                                     f"which is not a property of its schema")
        if declared["check"] == "max_duplicate_share" and "key" not in spec:
            raise ConfigurationError(f"dataset {dataset}: check {number} (max_duplicate_share) needs the spec's key")
        checks.append(Check(declared["check"], float(declared["limit"]), declared["on_breach"], field))
    return checks


def judge(checks: list[Check], profile: QualityProfile) -> list[CheckResult]:
    return [check.judge(profile) for check in checks]


def described(result: CheckResult) -> str:
    """A judged check in a few words: ``max_null_share(merchant) is 0.5, limit 0.1``."""
    what = f"{result['check']}({result['field']})" if result["field"] else result["check"]
    return f"{what} is {result['value']:g}, limit {result['limit']:g}"


def rejection(results: list[CheckResult]) -> str | None:
    """Why the checks reject the run, or ``None``."""
    breached = [described(result) for result in results if result["breached"] and result["on_breach"] == "reject"]
    return f"data quality checks breached: {'; '.join(breached)}" if breached else None


def warnings(results: list[CheckResult]) -> list[str]:
    return [described(result) for result in results if result["breached"] and result["on_breach"] == "warn"]
