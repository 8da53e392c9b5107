"""Every schema the registry accepts runs: JSON Schema 2020-12 features as a property of a dataset schema.

Each property subschema is wrapped as the property ``p`` of a dataset with a timestamp,
loaded through the registry, and records holding every kind of JSON value go through
ingest's readers, validation, the transform and a Parquet write.  Verdicts and reasons
must be the reference validator's, in whatever company a record is read.
"""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rfc8785

from chalicelib.datasets import DatasetRegistry
from chalicelib.datasets.columns import output_schema, source_fields, valid_schema
from chalicelib.transform.stage import transform_batch
from chalicelib.validate.reasons import record_failures
from chalicelib.validate.stage import valid_rows
from tests.unit.validate.pipeline import judged

TIMESTAMP = "2024-03-01T10:00:00Z"
RUN = {"run_id": "r-1", "execution_id": "arn:x", "dataset": "features", "started_at": TIMESTAMP, "staging_prefix": "staging/r-1/",
       "source": {"bucket": "raw", "key": "raw/features/f.jsonl", "version": "v1", "etag": "e", "size": 1}}
VALUES = [None, True, False, 0, 1, 2, 3, -1, 1.5, 2.5, 1.1, 1e15, "", "x", "৪", "٣", "1", TIMESTAMP, "2024-03-01", "2024-13-01",
          [], [1], [1, "a"], [[1.5]], [TIMESTAMP], {}, {"x": 1}, {"x": "a", "y": 2}]
DEFS = {"n": {"type": "integer", "minimum": 0}, "tree": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}
SUBSCHEMAS = [
    True, False, {}, {"type": "null"}, {"type": "integer", "enum": [1.5, 3]}, {"type": "integer", "const": 2.5},
    {"enum": [1.5, 3]}, {"type": "number", "enum": [1, 2.5]}, {"type": "boolean", "enum": [1, True]},
    {"type": "array", "items": False}, {"type": "array", "items": True}, {"items": {"type": "integer"}},
    {"type": "array", "items": {"type": "integer"}}, {"type": ["array", "null"], "items": {"type": ["number", "null"]}},
    {"type": "array", "prefixItems": [{"type": "integer"}], "items": {"type": "string"}}, {"type": "array", "prefixItems": [True]},
    {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}, {"type": "array", "contains": {"type": "integer"}},
    {"type": "array", "items": {"type": "string", "format": "date-time"}}, {"type": "array", "uniqueItems": True},
    {"format": "date-time"}, {"format": "date"}, {"type": ["string", "null"], "format": "date-time"},
    {"type": "integer", "format": "date-time"}, {"type": ["string", "integer"], "format": "date"}, {"enum": [TIMESTAMP], "format": "date-time"},
    {"minimum": 1.1}, {"maximum": 1}, {"multipleOf": 0.5}, {"type": "integer", "multipleOf": 2.5}, {"type": "number", "multipleOf": 0.1},
    {"properties": {"x": {"type": "integer"}}}, {"type": "object", "additionalProperties": False}, {"required": ["x"]},
    {"type": "object", "propertyNames": {"maxLength": 0}}, {"dependentRequired": {"x": ["y"]}},
    {"type": "object", "properties": {"x": True}, "unevaluatedProperties": False},
    {"enum": [None]}, {"enum": [1, "a", [1], {"x": 1}, None, True]}, {"const": {"x": 1}}, {"const": [1]},
    {"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"allOf": [{"type": "integer"}, {"minimum": 2}]},
    {"oneOf": [{"type": "integer"}, {"minimum": 2}]}, {"not": {"type": "string"}},
    {"if": {"type": "integer"}, "then": {"minimum": 2}, "else": {"type": "string"}},
    {"$ref": "#/$defs/n"}, {"type": "integer", "$ref": "#/$defs/n"}, {"$ref": "#/$defs/tree"}, {"type": "array", "$ref": "#/$defs/tree"},
    {"type": "string", "pattern": "^[^\\d]$"}, {"type": "string", "pattern": "^\\d$"}, {"type": "string", "pattern": "^\\w$"},
    {"pattern": "^\\d+$"}, {"type": "string", "minLength": 1, "maxLength": 1}, {"type": ["integer", "number"]},
    {"type": ["integer", "string"]}, {"type": ["boolean", "null"]}, {"type": "string", "format": "email"},
]


def dataset_with(tmp_path, prop):
    schema = {"type": "object", "required": ["timestamp"], "$defs": DEFS,
              "properties": {"timestamp": {"type": "string", "format": "date-time"}, "p": prop}}
    (tmp_path / "features.schema.json").write_text(json.dumps(schema))
    return DatasetRegistry(tmp_path).get("features")


def lines_of(values: list) -> list[bytes]:
    return [json.dumps({"timestamp": TIMESTAMP} if value is ... else {"timestamp": TIMESTAMP, "p": value}).encode() for value in values]


@pytest.mark.parametrize("prop", SUBSCHEMAS, ids=json.dumps)
@pytest.mark.parametrize("smallest_part", [1, None], ids=["refused-lines-isolated", "refused-parts-of-64"])
def test_every_accepted_schema_runs_and_judges_as_the_reference(tmp_path, prop, smallest_part):
    # GIVEN a dataset whose property p has the subschema, and records holding every kind of value in p (or none)
    dataset = dataset_with(tmp_path, prop)
    values = [*VALUES, ...]
    # WHEN they are staged and judged
    valid, rejected = judged(dataset, lines_of(values), smallest_part=smallest_part)
    # THEN verdicts and reasons are the reference's
    fields = source_fields(dataset)
    records = [json.loads(rfc8785.dumps(json.loads(line))) for line in lines_of(values)]  # judged in RFC 8785 form
    expected = {n: record_failures(dataset, fields, record) for n, record in enumerate(records, 1)}
    assert {r.record_number: r.reasons for r in rejected} == {n: reasons for n, reasons in expected.items() if reasons}
    assert valid["record_number"].to_pylist() == [n for n, reasons in expected.items() if not reasons]
    # AND no valid record is quarantined for want of a column that holds it
    assert not [r for r in rejected if any(reason["rule"] == "storage" for reason in r.reasons)]
    # AND the valid rows transform and write to Parquet
    table = transform_batch(dataset, output_schema(dataset), staged_valid(dataset, valid), RUN, datetime.now(UTC))
    pq.write_table(table, io.BytesIO())
    assert table.num_rows == valid.num_rows


def staged_valid(dataset, table: pa.Table) -> pa.RecordBatch:
    """The judged valid rows as validate stages them for transform."""
    judged_rows = pa.RecordBatch.from_arrays([column.combine_chunks() for column in table.columns], schema=table.schema)
    return valid_rows(judged_rows, valid_schema(dataset))


def verdicts(dataset, lines, **options) -> dict[int, list]:
    """Reasons per record number (empty for a valid record)."""
    valid, rejected = judged(dataset, lines, **options)
    return dict(sorted({**{n: [] for n in valid["record_number"].to_pylist()}, **{r.record_number: r.reasons for r in rejected}}.items()))


@pytest.mark.parametrize("prop", [True, False], ids=["true", "false"])
def test_boolean_property_schemas_run(tmp_path, prop):
    # GIVEN a property whose schema is the boolean true or false
    dataset = dataset_with(tmp_path, prop)
    # WHEN records with and without it are judged
    got = verdicts(dataset, lines_of([1, {"x": [1]}, ...]))
    # THEN true accepts every value, false every record without the member, as the reference does
    assert [bool(reasons) for reasons in got.values()] == ([False, False, False] if prop else [True, True, False])


@pytest.mark.parametrize(("items", "value", "valid"), [(False, [], True), (False, [1], False), (True, [1, "a", None], True)])
def test_arrays_with_items_true_or_false_run(tmp_path, items, value, valid):
    dataset = dataset_with(tmp_path, {"type": "array", "items": items})
    [reasons] = verdicts(dataset, lines_of([value])).values()
    assert [r["rule"] for r in reasons] == ([] if valid else ["items"])


@pytest.mark.parametrize("fmt", ["date-time", "date"])
def test_formats_without_a_string_type_ignore_non_strings(tmp_path, fmt):
    # GIVEN a format without "type": "string", which jsonschema applies to strings only
    dataset = dataset_with(tmp_path, {"format": fmt})
    # WHEN numbers, objects, arrays and booleans are judged beside a string that is no date
    got = verdicts(dataset, lines_of([5, 1.5, {"x": 1}, [1], True, "2024-13-01"]))
    # THEN they are valid, and only the string breaks the format
    assert [[r["rule"] for r in reasons] for reasons in got.values()] == [[], [], [], [], [], ["format"]]


FRACTIONAL = [({"type": "integer", "enum": [1.5, 3]}, 1), ({"type": "integer", "const": 2.5}, 2),
              ({"type": ["integer", "null"], "enum": [-0.5, 7]}, 0)]
DIGITS = [({"type": "string", "pattern": "^[^\\d]$"}, "৪"), ({"type": "string", "pattern": "^[^\\d]$"}, "٣"),
          ({"type": "string", "pattern": "^[^a-c\\d]+$"}, "x٣")]


@pytest.mark.parametrize(("prop", "value"), FRACTIONAL, ids=str)
def test_fractional_members_equal_no_integer(tmp_path, prop, value):
    dataset = dataset_with(tmp_path, prop)
    [reasons] = verdicts(dataset, lines_of([value])).values()
    assert [r["rule"] for r in reasons] == ["enum" if "enum" in prop else "const"]


@pytest.mark.parametrize(("prop", "value"), DIGITS, ids=str)
def test_digit_escapes_in_negated_classes_match_as_python_does(tmp_path, prop, value):
    dataset = dataset_with(tmp_path, prop)
    [reasons] = verdicts(dataset, lines_of([value])).values()
    assert [r["rule"] for r in reasons] == ["pattern"]


@pytest.mark.parametrize(("prop", "value"), FRACTIONAL + DIGITS, ids=str)
def test_a_verdict_is_the_same_alone_beside_a_refused_line_and_among_valid_lines(tmp_path, prop, value):
    # GIVEN a record the compiled checks once accepted and the reference rejects
    dataset = dataset_with(tmp_path, prop)
    [record] = lines_of([value])
    # WHEN it is judged alone, in a block beside a line Arrow refuses, and in a block of valid records
    alone = verdicts(dataset, [record])[1]
    beside_refused = verdicts(dataset, [record, b"{oops"])[1]
    among_valid = verdicts(dataset, [*lines_of([...] * 100), record, *lines_of([...] * 100)])
    # THEN it is rejected with the same reasons each time
    assert alone and beside_refused == alone and among_valid[101] == alone
    assert not any(among_valid[n] for n in among_valid if n != 101)


def test_values_without_a_declared_type_are_stored_as_their_json_text(tmp_path):
    # GIVEN properties that admit several types: no type, only keywords of numbers or objects
    schema = {"type": "object", "required": ["timestamp"], "properties": {
        "timestamp": {"type": "string", "format": "date-time"}, "n": {"minimum": 1.1}, "o": {"properties": {"x": {"type": "integer"}}},
        "any": True}}
    (tmp_path / "loose.schema.json").write_text(json.dumps(schema))
    dataset = DatasetRegistry(tmp_path).get("loose")
    records = [{"timestamp": TIMESTAMP, "n": 1.1, "o": {"x": 1}, "any": "text"}, {"timestamp": TIMESTAMP, "n": "one", "o": [1], "any": None}]
    # WHEN they are judged and transformed
    valid, rejected = judged(dataset, [json.dumps(r).encode() for r in records])
    table = transform_batch(dataset, output_schema(dataset), staged_valid(dataset, valid), RUN, datetime.now(UTC))
    # THEN no record is quarantined, and each value is stored as its JSON text in a string column
    assert not rejected
    assert table.select(["n", "o", "any"]).to_pylist() == [{"n": "1.1", "o": '{"x": 1}', "any": '"text"'},
                                                           {"n": '"one"', "o": "[1]", "any": None}]
    assert {table.schema.field(name).type for name in ("n", "o", "any")} == {pa.string()}
