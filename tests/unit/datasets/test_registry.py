from __future__ import annotations

import json

import pytest

from chalicelib.datasets import DatasetRegistry, UnknownDatasetError
from chalicelib.errors import ConfigurationError

SHIPPED = ["metrics", "transactions", "user_actions"]


def test_shipped_datasets_load(registry):
    assert registry.names() == SHIPPED
    for name in SHIPPED:
        dataset = registry.get(name)
        assert dataset.timestamp_field == "timestamp" and dataset.max_invalid_ratio == 0.1


def test_transactions_schema_is_as_specified(registry):
    schema = registry.get("transactions").schema
    assert set(schema["required"]) == {"transaction_id", "timestamp", "user_id", "amount", "currency"}
    assert set(schema["properties"]) - set(schema["required"]) == {"merchant"}
    assert schema["additionalProperties"] is False


def test_unknown_dataset_lists_the_known_ones(registry):
    with pytest.raises(UnknownDatasetError, match=r"unknown dataset 'orders'.*known: metrics, transactions, user_actions"):
        registry.get("orders")
    with pytest.raises(UnknownDatasetError):
        registry.get("../transactions")


def write(tmp_path, name, schema, spec=None):
    (tmp_path / f"{name}.schema.json").write_text(json.dumps(schema))
    if spec is not None:
        (tmp_path / f"{name}.transform.json").write_text(json.dumps(spec))
    return DatasetRegistry(tmp_path)


BASE = {"type": "object", "required": ["ts"], "properties": {"ts": {"type": "string", "format": "date-time"}, "n": {"type": "number"}}}


def test_adding_a_dataset_is_a_schema_file(tmp_path):
    dataset = write(tmp_path, "events", {**BASE, "required": ["timestamp"], "properties": {"timestamp": BASE["properties"]["ts"]}}).get("events")
    assert dataset.derived == [] and dataset.timestamp_field == "timestamp"


@pytest.mark.parametrize(
    ("schema", "spec", "message"),
    [
        ({"type": "nope"}, None, "not a valid JSON Schema"),
        (BASE, {"timestamp_field": "n"}, "must be a required property with format date-time"),
        (BASE, {"timestamp_field": "ts", "derived": [{"name": "x", "kind": "flag", "source": "missing", "above": 1}]}, "refers to 'missing'"),
        (BASE, {"timestamp_field": "ts", "derived": [{"name": "n", "kind": "flag", "source": "n", "above": 1}]}, "clashes"),
        (BASE, {"timestamp_field": "ts", "derived": [{"name": "x", "kind": "category", "source": "n"}]}, "'bins' is a required property"),
        (BASE, {"timestamp_field": "ts", "max_invalid_ratio": 2}, "greater than the maximum"),
    ],
)
def test_broken_dataset_definitions_are_configuration_errors(tmp_path, schema, spec, message):
    with pytest.raises(ConfigurationError, match=message):
        write(tmp_path, "bad", schema, spec).get("bad")
