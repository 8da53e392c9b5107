from __future__ import annotations

import pytest

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import source_fields
from chalicelib.validate.reasons import MAX_MESSAGE_CHARS, parse_failure, record_failures, schema_failures

VALID = {"transaction_id": "t1", "timestamp": "2024-01-01T00:00:00Z", "user_id": "u", "amount": 5, "currency": "USD"}


@pytest.fixture
def validator(registry):
    return registry.get("transactions").validator


def test_valid_record_has_no_reasons(validator):
    assert schema_failures(validator, VALID) == []


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        ({"amount": -1}, "$.amount", "minimum"),
        ({"amount": "5"}, "$.amount", "type"),
        ({"currency": "usd"}, "$.currency", "pattern"),
        ({"timestamp": "2024-13-01T00:00:00Z"}, "$.timestamp", "format"),
        ({"timestamp": "2024-01-01 00:00"}, "$.timestamp", "format"),
        ({"extra": 1}, "$", "additionalProperties"),
        ({"transaction_id": None}, "$.transaction_id", "type"),
    ],
)
def test_each_rule_is_named_with_its_path(validator, change, path, rule):
    reasons = schema_failures(validator, {**VALID, **change})
    assert [(r["path"], r["rule"]) for r in reasons] == [(path, rule)]
    assert reasons[0]["message"]


def test_missing_fields_are_reported_each(validator):
    reasons = schema_failures(validator, {"transaction_id": "t"})
    assert {(r["rule"], r["message"]) for r in reasons} == {
        ("required", f"'{name}' is a required property") for name in ("timestamp", "user_id", "amount", "currency")
    }


def test_non_object_record(validator):
    assert [(r["path"], r["rule"]) for r in schema_failures(validator, [1, 2])] == [("$", "type")]


def test_parse_failure_and_long_messages_are_bounded():
    reason = parse_failure("x" * 1000)
    assert reason["rule"] == "parse" and reason["path"] == "$" and len(reason["message"]) == MAX_MESSAGE_CHARS


def test_integer_beyond_64_bits_is_a_storage_failure():
    # GIVEN a dataset with an integer property and a schema-valid 70-bit value
    dataset = Dataset(name="counts", schema={"type": "object", "properties": {"n": {"type": "integer"}}})
    fields = source_fields(dataset)
    # WHEN checked
    reasons = record_failures(dataset, fields, {"n": 2**70})
    # THEN the reason names the field and the column type
    assert [(r["path"], r["rule"]) for r in reasons] == [("$.n", "storage")]
    assert "int64" in reasons[0]["message"]
    assert record_failures(dataset, fields, {"n": 2**62}) == []


def test_schema_failures_come_first(validator, registry):
    dataset = registry.get("transactions")
    reasons = record_failures(dataset, source_fields(dataset), {**VALID, "amount": -1, "timestamp": "9999-12-31T23:00:00-05:00"})
    assert [(r["path"], r["rule"]) for r in reasons] == [("$.amount", "minimum")]
