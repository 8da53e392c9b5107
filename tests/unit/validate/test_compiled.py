"""Differential tests: compiled checks + reference fallback judge every record as jsonschema does."""
from __future__ import annotations

import io
import json

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import python_column, source_fields
from chalicelib.sources.columnar import read_json_lines
from chalicelib.sources.staged import ingested_schema, parse_types
from chalicelib.validate.compiled import CompiledSchema
from chalicelib.validate.reasons import record_failures
from tests.unit.validate.pipeline import judged

DATE_TIMES = ["2024-03-01T10:00:00Z", "2024-02-29T23:59:59.123456789+05:30", "2023-02-29T00:00:00Z",
              "2024-03-01t10:00:00z", "2024-03-01T24:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-00:30",
              "2024-13-01T00:00:00Z", "2024-03-01 10:00:00Z", "2024-03-01T10:00:60Z", "2024-03-01T10:00:00",
              "1970-01-01T00:00:00.5-01:00", "2024-03-01T10:00:00+24:00", "2024-03-01T10:00:00Z\n", "0000-01-01T00:00:00Z"]
DATES = ["2024-02-29", "2023-02-29", "0000-01-01", "2024-1-01", "2024-12-31", "20240101", "2024-03-01T00:00:00Z"]
# Patterns RE2 and Python read alike, and ones they do not: Unicode classes, negated classes with \d,
# a final $ before a final newline, possessive and POSIX syntax, a leading ] in a class.
PATTERNS = st.sampled_from(["^[A-Z]{3}$", "a", "\\w", "^x$", "[[:alpha:]]", "é", "^(ab|c)*$", "\\bx", "^.{2}$", "a{,2}",
                            "^\\D$", "^a{1}+$", "[]a]", "^[a-]+$", "^\\s$", "^[^x]$"]) \
    | st.sampled_from(["^[^\\d]$", "[^\\d]", "[^a-c\\d]", "^[\\d]+$", "^\\d$", "^(?:x|\\d)+$", "^\\d+$"])  # digits
TRICKY_TEXTS = ["৪", "٣", "1", "12", "x", "x\n", "a]", "", " ", "é", "USD", "USD\n", "ab"]
TEXTS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6) | st.sampled_from(
    DATE_TIMES + DATES + TRICKY_TEXTS + ["usd", "abc\n"])
NUMBERS = st.integers(-50, 50) | st.floats(-100, 100, allow_nan=False) | st.sampled_from([0, 0.5, 2.5, -0.0, 1e15, 2.0**53])
# Members that are fractional, or integral floats, beside the small integers records hold.
MEMBERS = st.sampled_from([0, 1, 1.5, 2, 2.5, 3.0, -1, -0.5]) | NUMBERS
JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from([0.5, 1.1, -2.5]) | TEXTS,
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["x", "y"]), children, max_size=2),
                    max_leaves=4)

string_keywords = st.fixed_dictionaries({}, optional={
    "minLength": st.integers(0, 4), "maxLength": st.integers(0, 6), "pattern": PATTERNS,
    "format": st.sampled_from(["date-time", "date", "email"]), "enum": st.lists(TEXTS, min_size=1, max_size=3),
    "const": TEXTS, "title": st.just("t")})
number_keywords = st.fixed_dictionaries({}, optional={
    "minimum": NUMBERS, "maximum": NUMBERS, "exclusiveMinimum": NUMBERS, "exclusiveMaximum": NUMBERS,
    "multipleOf": st.sampled_from([1, 2, 3, 0.5, 2.5, 0.1]), "enum": st.lists(MEMBERS | st.booleans(), min_size=1, max_size=3),
    "const": MEMBERS, "not": st.just({"const": 7}), "format": st.sampled_from(["date-time", "date"])})
boolean_keywords = st.fixed_dictionaries({}, optional={"enum": st.lists(st.booleans() | NUMBERS, min_size=1, max_size=2),
                                                       "const": st.booleans(), "format": st.just("date")})
# Where the fast path once disagreed with the reference: fractional members on integer columns, \d in negated classes.
EDGE_PROPERTIES = st.sampled_from([
    {"type": "integer", "enum": [1.5, 3]}, {"type": "integer", "const": 2.5}, {"type": ["integer", "null"], "enum": [-0.5, 2.0, True]},
    {"type": "number", "enum": [1, 2.5]}, {"type": "string", "pattern": "^[^\\d]$"}, {"type": "string", "pattern": "[^a-c\\d]"},
    {"type": "string", "pattern": "^\\d$"}, {"type": ["string", "null"], "pattern": "^[^\\d]+$", "maxLength": 3},
])
KEYWORDS = {"string": string_keywords, "integer": number_keywords, "number": number_keywords, "boolean": boolean_keywords}
VALUES = {"string": TEXTS, "integer": st.integers(-60, 60) | st.integers(-3, 3), "number": NUMBERS, "boolean": st.booleans()}
# Subschemas beyond one scalar type: boolean schemas, items, formats and numeric keywords without a type, objects.
OTHER_SUBSCHEMAS = st.sampled_from([
    True, False, {"type": "array"}, {"type": "array", "items": True}, {"type": "array", "items": False},
    {"type": "array", "items": {"type": "integer", "minimum": 0}}, {"type": ["array", "null"], "items": {"type": "number"}},
    {"type": "array", "items": {"type": "string", "format": "date-time"}}, {"type": "array", "items": {"type": "array", "items": {"type": "boolean"}}},
    {"type": "array", "prefixItems": [{"type": "integer"}], "items": {"type": "string"}}, {"format": "date-time"}, {"format": "date"},
    {"type": ["string", "integer"], "format": "date-time"}, {"minimum": 1.1}, {"properties": {"x": {"type": "integer"}}},
    {"type": "object"}, {"enum": [1, "a", None, [1]]}, {"const": {"x": 1}}, {"pattern": "^[^\\d]$"}, {"not": {"type": "string"}},
])


@st.composite
def datasets(draw) -> Dataset:
    properties = {}
    scalar_only = draw(st.integers(0, 3)) > 0  # most datasets are read by the columnar path, where the compiled checks run
    for name in draw(st.lists(st.sampled_from(["a", "b", "c", "d", "ü"]), min_size=1, max_size=4, unique=True)):
        if not scalar_only and draw(st.booleans()):
            properties[name] = draw(OTHER_SUBSCHEMAS)
            continue
        if draw(st.integers(0, 2)) == 0:
            properties[name] = draw(EDGE_PROPERTIES)
            continue
        kind = draw(st.sampled_from(list(KEYWORDS)))
        nullable = draw(st.booleans())
        properties[name] = {"type": [kind, "null"] if nullable else kind, **draw(KEYWORDS[kind])}
    schema = {"type": "object", "properties": properties,
              "required": draw(st.lists(st.sampled_from(list(properties)), unique=True)),
              "additionalProperties": draw(st.booleans())}
    if draw(st.integers(0, 9)) == 0:
        schema["minProperties"] = 1  # a top-level keyword the compiler leaves to the reference
    return Dataset(name="generated", schema=schema)


def near(prop: dict) -> st.SearchStrategy:
    """Values at the edges of a property's keywords: numeric members and the integers beside them, else texts and digits of other scripts."""
    members = prop.get("enum", []) + ([prop["const"]] if "const" in prop else [])
    numbers = [m for m in members if isinstance(m, (int, float)) and not isinstance(m, bool)]
    edges = [e for e in [int(m) + step for m in numbers for step in (-1, 0, 1)] + numbers if abs(e) < 2**53 - 1]  # I-JSON
    return st.sampled_from(edges) if edges else st.sampled_from(members + TRICKY_TEXTS)


@st.composite
def records(draw, dataset: Dataset) -> dict:
    record = {}
    for name, prop in dataset.properties.items():
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue
        declared = prop.get("type") if isinstance(prop, dict) else None
        kind = declared[0] if isinstance(declared, list) else declared
        if kind not in VALUES or choice == 1:
            record[name] = draw(JSON)
        else:
            record[name] = draw(near(prop) if choice <= 5 else VALUES[kind])
    if draw(st.integers(0, 9)) == 0:
        record["extra"] = 1
    return record


def reference(dataset: Dataset, values: list) -> dict[int, list]:
    """The reference's reasons for each record (by record number), judged, as always, in its RFC 8785 form (0.0 is 0)."""
    fields = source_fields(dataset)
    return {n: record_failures(dataset, fields, json.loads(rfc8785.dumps(v))) for n, v in enumerate(values, 1)}


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")  # Python's re on "[[:alpha:]]"
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_verdicts_reasons_and_stored_values_equal_the_reference(data):
    # GIVEN a generated schema and records of right and wrong types, absent and extra members
    dataset = data.draw(datasets())
    values = data.draw(st.lists(records(dataset), min_size=1, max_size=40))
    # WHEN the readers stage them (refused parts halved to single lines, or not) and the judge splits them
    isolated = data.draw(st.booleans())
    valid, rejected = judged(dataset, [json.dumps(v).encode() for v in values], smallest_part=1 if isolated else None)
    # THEN the valid records are exactly those jsonschema (and the storage check) accepts
    expected = reference(dataset, values)
    assert valid["record_number"].to_pylist() == [n for n, reasons in expected.items() if not reasons]
    # AND each rejected record carries the reference's reasons
    assert {r.record_number: r.reasons for r in rejected} == {n: reasons for n, reasons in expected.items() if reasons}
    # AND valid records are stored as the per-record conversion stores them
    accepted = [json.loads(rfc8785.dumps(values[n - 1])) for n in valid["record_number"].to_pylist()]
    for field in source_fields(dataset):
        assert valid[field.name].to_pylist() == python_column(field, dataset.json_text[field.name], accepted).to_pylist()


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_verdict_depends_on_the_record_alone(data):
    # GIVEN a generated schema read by the columnar path, and records
    dataset = data.draw(datasets().filter(lambda d: bool(parse_types(d))))
    values = data.draw(st.lists(records(dataset), min_size=1, max_size=8))
    lines = [json.dumps(v).encode() for v in values]
    expected = reference(dataset, values)
    # WHEN each is judged alone, and all of them together beside a line Arrow refuses
    alone = {n: judged(dataset, [line]) for n, line in enumerate(lines, 1)}
    _, beside_refused = judged(dataset, [*lines, b"{oops"])
    # THEN every verdict and every reason is the reference's in both
    assert {n: [r.reasons for r in rejected] for n, (_, rejected) in alone.items()} == \
        {n: [reasons] if reasons else [] for n, reasons in expected.items()}
    assert {r.record_number: r.reasons for r in beside_refused} == \
        {**{n: reasons for n, reasons in expected.items() if reasons}, len(lines) + 1: beside_refused[-1].reasons}


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


def test_a_reference_into_a_settled_property_still_resolves_to_its_subschema():
    # GIVEN "b" refers to the subschema of "a", which the compiled checks settle
    dataset = Dataset(name="pointer", schema={
        "type": "object", "properties": {"a": {"type": "string", "minLength": 1}, "b": {"type": "string", "$ref": "#/properties/a"}}})
    # WHEN a record whose "a" is settled but whose "b" breaks a's minLength is judged
    _, rejected = judged(dataset, [json.dumps({"a": "x", "b": ""}).encode()])
    # THEN the reference's reason is reported, not hidden by the settled "a"
    assert [r.reasons for r in rejected] == [[{"path": "$.b", "rule": "minLength", "message": "'' should be non-empty"}]]
