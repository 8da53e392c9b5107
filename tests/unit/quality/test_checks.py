"""Declared checks: parsed from the spec, judged on a profile, and what a breach does."""
from __future__ import annotations

import json

import pytest

from chalicelib.datasets import DatasetRegistry
from chalicelib.errors import ConfigurationError
from chalicelib.quality.checks import Check, judge, rejection, warnings

PROFILE = {"records": 10, "valid": 8, "invalid": 2, "invalid_share": 0.2, "top_rules": [], "newest_event": None,
           "fields": {"merchant": {"null_share": 0.5}}, "freshness_seconds": 7200.0, "key": "id", "duplicate_share": 0.25}


@pytest.mark.parametrize(("check", "breached"), [
    (Check("min_rows", 8, "warn"), False), (Check("min_rows", 9, "warn"), True),
    (Check("max_rows", 8, "warn"), False), (Check("max_rows", 7, "warn"), True),
    (Check("max_invalid_share", 0.2, "warn"), False), (Check("max_invalid_share", 0.1, "warn"), True),
    (Check("max_duplicate_share", 0.3, "warn"), False), (Check("max_duplicate_share", 0, "warn"), True),
    (Check("max_null_share", 0.5, "warn", "merchant"), False), (Check("max_null_share", 0.4, "warn", "merchant"), True),
    (Check("max_freshness_seconds", 7200, "warn"), False), (Check("max_freshness_seconds", 3600, "warn"), True),
])
def test_each_check_reads_its_figure(check, breached):
    [result] = judge([check], PROFILE)  # type: ignore[list-item]
    assert result["breached"] is breached


def test_warn_and_reject_breaches_say_what_they_do():
    checks = [Check("min_rows", 100, "reject"), Check("max_null_share", 0.1, "warn", "merchant"), Check("max_rows", 1000, "reject")]
    results = judge(checks, PROFILE)  # type: ignore[arg-type]
    assert rejection(results) == "data quality checks breached: min_rows is 8, limit 100"
    assert warnings(results) == ["max_null_share(merchant) is 0.5, limit 0.1"]


def write(tmp_path, spec) -> DatasetRegistry:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["ts"],
              "properties": {"ts": {"type": "string", "format": "date-time"}, "n": {"type": "integer"}}}
    (tmp_path / "events.schema.json").write_text(json.dumps(schema))
    (tmp_path / "events.transform.json").write_text(json.dumps({"timestamp_field": "ts", **spec}))
    return DatasetRegistry(tmp_path)


@pytest.mark.parametrize(("spec", "words"), [
    ({"checks": [{"check": "max_null_share", "field": "nope", "limit": 0.1, "on_breach": "warn"}]},
     r"dataset events: check 1 \(max_null_share\) names field 'nope'"),
    ({"checks": [{"check": "max_duplicate_share", "limit": 0, "on_breach": "warn"}]}, "needs the spec's key"),
    ({"key": "nope"}, "dataset events: key 'nope' is not a property"),
    ({"checks": [{"check": "min_rows", "limit": 1, "on_breach": "panic"}]}, "panic"),
    ({"checks": [{"check": "max_null_share", "limit": 0.1, "on_breach": "warn"}]}, "field"),
    ({"checks": [{"check": "min_rows", "field": "n", "limit": 1, "on_breach": "warn"}]}, "checks"),
])
def test_a_bad_spec_is_refused_at_load_naming_the_dataset_and_field(tmp_path, spec, words):
    with pytest.raises(ConfigurationError, match=words):
        write(tmp_path, spec).get("events")


def test_a_good_spec_loads_its_key_and_checks(tmp_path):
    dataset = write(tmp_path, {"key": "n", "checks": [{"check": "max_null_share", "field": "n", "limit": 0.1, "on_breach": "reject"}]}).get("events")
    assert dataset.key == "n" and dataset.checks == [Check("max_null_share", 0.1, "reject", "n")]
