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
        (BASE, {"timestamp_field": "ts", "chunk_mb": 500}, "dataset bad: chunk_mb must be .* at most 100, got 500"),
    ],
)
def test_broken_dataset_definitions_are_configuration_errors(tmp_path, schema, spec, message):
    with pytest.raises(ConfigurationError, match=message):
        write(tmp_path, "bad", schema, spec).get("bad")


TS = {"type": "string", "format": "date-time"}


def with_props(**props):
    return {"type": "object", "required": ["ts"], "properties": {"ts": TS, **props}}


@pytest.mark.parametrize(
    ("schema", "spec", "message"),
    [
        ({**with_props(), "type": "array"}, None, r'dataset bad: the schema must say "type": "object"'),
        ({k: v for k, v in with_props().items() if k != "type"}, None, r'the schema must say "type": "object"'),
        (with_props(line={"type": "integer"}), None, r"dataset bad: property 'line': the name is reserved"),
        (with_props(record_id={"type": "string"}), None, r"property 'record_id': the name is reserved"),
        (with_props(year={"type": "integer"}), None, r"property 'year': the name is reserved"),
        (with_props(**{"": {"type": "integer"}}), None, r"dataset bad: property '': a column needs a name"),
        (with_props(p={"$ref": "#/$defs/missing"}), None, r"dataset bad: property 'p': \$ref '#/\$defs/missing' does not resolve"),
        (with_props(p={"items": {"$ref": "https://example.com/x.json"}}), None, r"property 'p': \$ref 'https://example.com/x.json' does not"),
        ({**with_props(), "allOf": [{"$ref": "#nowhere"}]}, None, r"dataset bad: schema: \$ref '#nowhere' does not resolve"),
        (with_props(p={"$dynamicRef": "#meta"}), None, r"property 'p': \$dynamicRef '#meta' does not resolve"),
        ({**with_props(), "properties": {"ts": {"format": "date-time"}}}, {"timestamp_field": "ts"},
         "must be a required property with format date-time"),
        ({**with_props(), "properties": {"ts": True}}, {"timestamp_field": "ts"}, "must be a required property with format date-time"),
        (with_props(s={"type": "string"}), {"timestamp_field": "ts", "derived": [{"name": "c", "kind": "category", "source": "s",
                                                                                    "bins": [{"below": 1, "label": "x"}], "otherwise": "y"}]},
         r"derived field 'c': its source, property 's', must be an integer or number \(its column is string\)"),
        (with_props(n={"type": "number"}), {"timestamp_field": "ts", "derived": [{"name": "d", "kind": "date", "source": "n"}]},
         r"derived field 'd': its source, property 'n', must be a date-time"),
        (with_props(n={"type": "number"}, k={"type": ["string", "integer"]}),
         {"timestamp_field": "ts", "derived": [{"name": "o", "kind": "outside_range", "source": "n", "key": "k", "ranges": {}}]},
         r"derived field 'o': its key, property 'k', must be \"type\": \"string\""),
        (with_props(n={"type": "number"}), {"timestamp_field": "ts", "derived": [{"name": "run_id", "kind": "flag", "source": "n", "above": 1}]},
         "clashes with a schema property or a column the pipeline adds"),
        (with_props(tags={"type": "array", "items": {"type": "string"}}), {"timestamp_field": "ts", "key": "tags"},
         r"dataset bad: key 'tags' must be a scalar property .*, not array"),
        (with_props(o={"type": ["object", "null"]}), {"timestamp_field": "ts", "key": "o"}, r"key 'o' must be a scalar property .*, not object"),
        (with_props(any={"minLength": 1}), {"timestamp_field": "ts", "key": "any"}, r"key 'any' must be a scalar .*, not array or object"),
    ],
)
def test_schemas_the_pipeline_cannot_run_are_refused_naming_dataset_and_property(tmp_path, schema, spec, message):
    with pytest.raises(ConfigurationError, match=message):
        write(tmp_path, "bad", schema, spec or {"timestamp_field": "ts"}).get("bad")


def test_references_resolve_within_the_schema_to_meta_schemas_and_under_nested_ids(tmp_path):
    schema = {**with_props(
        meta={"$ref": "https://json-schema.org/draft/2020-12/schema"},
        nested={"$id": "https://example.com/nested.json", "$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}},
        anchored={"$ref": "#small"}, pointer={"$ref": "#/properties/ts"}), "$defs": {"small": {"$anchor": "small", "maximum": 5}}}
    dataset = write(tmp_path, "refs", schema, {"timestamp_field": "ts"}).get("refs")
    assert set(dataset.properties) == {"ts", "meta", "nested", "anchored", "pointer"}


@pytest.mark.parametrize("key", [{"type": "string"}, {"type": ["integer", "null"]}, {"type": ["string", "number"]}, {"enum": ["a", 1, None]}])
def test_a_key_of_scalars_is_accepted(tmp_path, key):
    dataset = write(tmp_path, "keyed", with_props(k=key), {"timestamp_field": "ts", "key": "k"}).get("keyed")
    assert dataset.key == "k"
