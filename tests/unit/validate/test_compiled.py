"""Differential tests: compiled checks + reference fallback judge every record as jsonschema does."""
from __future__ import annotations

import io
import json

import pyarrow as pa
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import python_column, source_fields
from chalicelib.ingest.columnar import read_json_lines
from chalicelib.ingest.staged import ingested_schema, parse_types
from chalicelib.validate.compiled import CompiledSchema
from chalicelib.validate.judge import Judge
from chalicelib.validate.reasons import record_failures

DATE_TIMES = ["2024-03-01T10:00:00Z", "2024-02-29T23:59:59.123456789+05:30", "2023-02-29T00:00:00Z",
              "2024-03-01t10:00:00z", "2024-03-01T24:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-00:30",
              "2024-13-01T00:00:00Z", "2024-03-01 10:00:00Z", "2024-03-01T10:00:60Z", "2024-03-01T10:00:00",
              "1970-01-01T00:00:00.5-01:00", "2024-03-01T10:00:00+24:00", "2024-03-01T10:00:00Z\n", "0000-01-01T00:00:00Z"]
DATES = ["2024-02-29", "2023-02-29", "0000-01-01", "2024-1-01", "2024-12-31", "20240101", "2024-03-01T00:00:00Z"]
PATTERNS = ["^[A-Z]{3}$", "a", "^\\d+$", "\\w", "^x$", "[[:alpha:]]", "é", "^(ab|c)*$", "\\bx", "^.{2}$", "a{,2}"]
TEXTS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6) | st.sampled_from(
    DATE_TIMES + DATES + ["USD", "usd", "x", "ab", "٣", "abc\n", "é"])
NUMBERS = st.integers(-50, 50) | st.floats(-100, 100, allow_nan=False) | st.sampled_from([0, 0.5, 2.5, -0.0, 1e15, 2.0**53])

string_keywords = st.fixed_dictionaries({}, optional={
    "minLength": st.integers(0, 4), "maxLength": st.integers(0, 6), "pattern": st.sampled_from(PATTERNS),
    "format": st.sampled_from(["date-time", "date", "email"]), "enum": st.lists(TEXTS, min_size=1, max_size=3),
    "const": TEXTS, "title": st.just("t")})
number_keywords = st.fixed_dictionaries({}, optional={
    "minimum": NUMBERS, "maximum": NUMBERS, "exclusiveMinimum": NUMBERS, "exclusiveMaximum": NUMBERS,
    "multipleOf": st.sampled_from([1, 2, 3, 0.5, 2.5, 0.1]), "enum": st.lists(NUMBERS | st.booleans(), min_size=1, max_size=3),
    "const": NUMBERS, "not": st.just({"const": 7})})
boolean_keywords = st.fixed_dictionaries({}, optional={"enum": st.lists(st.booleans() | NUMBERS, min_size=1, max_size=2),
                                                       "const": st.booleans()})
KEYWORDS = {"string": string_keywords, "integer": number_keywords, "number": number_keywords, "boolean": boolean_keywords}
VALUES = {"string": TEXTS, "integer": st.integers(-60, 60), "number": NUMBERS, "boolean": st.booleans()}


@st.composite
def datasets(draw) -> Dataset:
    properties = {}
    for name in draw(st.lists(st.sampled_from(["a", "b", "c", "d", "ü"]), min_size=1, max_size=4, unique=True)):
        kind = draw(st.sampled_from(list(KEYWORDS)))
        nullable = draw(st.booleans())
        properties[name] = {"type": [kind, "null"] if nullable else kind, **draw(KEYWORDS[kind])}
    schema = {"type": "object", "properties": properties,
              "required": draw(st.lists(st.sampled_from(list(properties)), unique=True)),
              "additionalProperties": draw(st.booleans())}
    if draw(st.integers(0, 9)) == 0:
        schema["minProperties"] = 1  # a top-level keyword the compiler leaves to the reference
    return Dataset(name="generated", schema=schema)


@st.composite
def records(draw, dataset: Dataset) -> dict:
    record = {}
    for name, prop in dataset.properties.items():
        kind = prop["type"][0] if isinstance(prop["type"], list) else prop["type"]
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue
        record[name] = draw(VALUES[kind]) if choice > 2 else draw(st.sampled_from([None, "1", 1, 1.5, True]))
    if draw(st.integers(0, 9)) == 0:
        record["extra"] = 1
    return record


def judged(dataset: Dataset, lines: list[bytes]):
    schema = ingested_schema(parse_types(dataset))
    judge = Judge(dataset)
    valid, rejected = [], []
    for batch in read_json_lines(io.BytesIO(b"\n".join(lines) + b"\n"), schema):
        kept, refused = judge.judge(batch)
        valid.append(kept)
        rejected += refused
    return pa.Table.from_batches(valid, schema=judge.schema), rejected


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")  # Python's re on "[[:alpha:]]"
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_verdicts_reasons_and_stored_values_equal_the_reference(data):
    # GIVEN a generated schema and records of right and wrong types, absent and extra members
    dataset = data.draw(datasets())
    values = data.draw(st.lists(records(dataset), min_size=1, max_size=40))
    # WHEN the columnar reader and the judge split them
    valid, rejected = judged(dataset, [json.dumps(v).encode() for v in values])
    # THEN the valid records are exactly those jsonschema (and the storage check) accepts,
    # judged, as always, in their RFC 8785 form (0.0 is 0)
    values = [json.loads(rfc8785.dumps(v)) for v in values]
    fields = source_fields(dataset)
    reference = {n: record_failures(dataset, fields, v) for n, v in enumerate(values, 1)}
    assert valid["record_number"].to_pylist() == [n for n, reasons in reference.items() if not reasons]
    # AND each rejected record carries the reference's reasons
    assert {r.record_number: r.reasons for r in rejected} == {n: reasons for n, reasons in reference.items() if reasons}
    # AND valid records are stored as the per-record conversion stores them
    accepted = [values[n - 1] for n in valid["record_number"].to_pylist()]
    for field in fields:
        assert valid[field.name].to_pylist() == python_column(field, dataset.field_types[field.name], accepted).to_pylist()


def test_common_records_of_a_real_schema_pass_the_compiled_checks(registry):
    # GIVEN transactions written the way producers write them
    dataset = registry.get("transactions")
    lines = [json.dumps({"transaction_id": f"t{i}", "timestamp": f"2024-03-01T10:{i % 60:02d}:00.5+01:00",
                         "user_id": "u", "amount": i * 1.25, "currency": "EUR"}).encode() for i in range(200)]
    schema = ingested_schema(parse_types(dataset))
    [batch] = read_json_lines(io.BytesIO(b"\n".join(lines) + b"\n"), schema)
    # WHEN the compiled checks run
    checked = CompiledSchema(dataset).check(batch.column("values"))
    # THEN every record is passed without the reference validator
    assert checked.surely_valid.to_pylist() == [True] * 200


def test_reasons_of_records_with_settled_properties_and_references_equal_the_reference():
    # GIVEN a schema whose property "b" refers to $defs (never compiled) and "a" is compiled,
    # so a record's "a" can be settled while "b" goes to the reference validator
    dataset = Dataset(name="refs", schema={
        "type": "object", "required": ["a"], "additionalProperties": False,
        "$defs": {"small": {"type": "integer", "maximum": 5}},
        "properties": {"a": {"type": "string", "minLength": 1}, "b": {"type": "integer", "$ref": "#/$defs/small"},
                       "c": {"type": "integer", "minimum": 0}},
    })
    values = [{"a": "x", "b": 9}, {"a": "x", "b": 9, "c": -1}, {"a": "", "b": 1}, {"b": 2}, {"a": "x", "b": 3}]
    # WHEN the judge splits them
    valid, rejected = judged(dataset, [json.dumps(v).encode() for v in values])
    # THEN verdicts and reasons are those of the full validator on each whole record
    fields = source_fields(dataset)
    reference = {n: record_failures(dataset, fields, v) for n, v in enumerate(values, 1)}
    assert {r.record_number: r.reasons for r in rejected} == {n: r for n, r in reference.items() if r}
    assert valid["record_number"].to_pylist() == [5]
    assert [reason["path"] for reason in reference[1]] == ["$.b"]  # the case the settled "a" must not hide
