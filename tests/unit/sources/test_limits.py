"""What one record may cost: a line too deep or too long is one invalid record, never the run."""
from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pytest

from chalicelib.datasets import Dataset
from chalicelib.sources import columnar
from chalicelib.sources.errors import UnreadableSourceError
from chalicelib.sources.formats import convert_csv_value, decompressed, parse
from chalicelib.sources.limits import HEAD_BYTES, KEPT_BYTES, MAX_DEPTH, MAX_LINE_BYTES, TOO_DEEP, TOO_LONG
from chalicelib.sources.staged import ingested_schema, parse_types, parsed_batches

DATASET = Dataset(name="flat", schema={"type": "object", "properties": {"a": {"type": "integer"}, "s": {"type": "string"}}})
SCHEMA = ingested_schema(parse_types(DATASET))


def nested(depth: int, member: str = "a") -> bytes:
    """A record whose member holds ``depth - 1`` nested arrays (the record itself is the first level)."""
    return f'{{"{member}": '.encode() + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def per_line(data: bytes) -> pa.Table:
    return pa.Table.from_batches(list(parsed_batches(parse(io.BytesIO(data), "jsonl", DATASET.field_types), SCHEMA)), schema=SCHEMA)


def by_columns(data: bytes) -> pa.Table:
    return pa.Table.from_batches(list(columnar.read_json_lines(decompressed(io.BytesIO(data)), SCHEMA)), schema=SCHEMA)


READERS = pytest.mark.parametrize("read", [per_line, by_columns], ids=["per-line", "columnar"])


@READERS
@pytest.mark.parametrize("member", ["a", "unknown"])  # Arrow's inference of an unknown member overflowed the stack
def test_a_line_of_100000_nested_arrays_is_one_invalid_record_and_the_others_go_on(read, member):
    data = b'{"a": 1}\n' + nested(100_001, member) + b'\n{"a": 2}\n'
    staged = read(data).select(["record_number", "line", "record", "error"]).to_pylist()
    assert staged == [{"record_number": 1, "line": 1, "record": '{"a":1}', "error": None},
                      {"record_number": 2, "line": 2, "record": None, "error": TOO_DEEP},
                      {"record_number": 3, "line": 3, "record": '{"a":2}', "error": None}]


@READERS
def test_nesting_is_limited_at_max_depth_and_brackets_in_strings_do_not_count(read):
    brackets = json.dumps({"s": "[" * 200 + "{" * 200}).encode()
    data = b"\n".join([nested(MAX_DEPTH, "x"), nested(MAX_DEPTH + 1, "x"), brackets]) + b"\n"
    assert read(data)["error"].to_pylist() == [None, TOO_DEEP, None]


@READERS
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_line_longer_than_the_limit_is_one_invalid_record_keeping_its_head(read, compress, monkeypatch):
    # GIVEN lines at the limit (one with a \r\n) and beyond it, the longest spanning several read blocks
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 1 << 18)
    at_limit = b'{"s": "' + b"x" * (MAX_LINE_BYTES - 9) + b'"}'
    over = b'{"s": "' + b"y" * (MAX_LINE_BYTES - 8) + b'"}'
    much_over = b'{"s": "' + b"z" * (3 * MAX_LINE_BYTES) + b'"}'
    data = b"\n".join([at_limit + b"\r", over, b'{"a": 1}', much_over, b'{"a": 2}']) + b"\n"
    # WHEN read
    staged = read(gzip.compress(data) if compress else data).to_pylist()
    # THEN only the lines beyond the limit are invalid, each keeping the head of its text, and the others go on
    assert [row["error"] and row["error"].split(" (")[0] for row in staged] == [None, TOO_LONG, None, TOO_LONG, None]
    assert [len(row["raw"] or "") for row in staged] == [0, KEPT_BYTES, 0, KEPT_BYTES, 0]
    assert staged[3]["raw"].startswith('{"s": "zzz') and [row["line"] for row in staged] == [1, 2, 3, 4, 5]
    assert staged[4]["record"] == '{"a":2}'


def test_the_columnar_reader_keeps_no_more_of_a_line_longer_than_a_block_than_its_head(monkeypatch):
    # GIVEN a line many read blocks long
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 1 << 18)
    blocks = list(columnar._blocks(io.BytesIO(b"x" * (5 * MAX_LINE_BYTES) + b"\n{}\n")))
    # THEN it reaches the parser cut to its head, and the next line whole
    assert [len(line) for block in blocks for line in block.split(b"\n")[:-1]] == [HEAD_BYTES, 2]


def test_json_array_records_too_deep_or_too_long_are_invalid_records_and_the_array_goes_on():
    long_text = "y" * MAX_LINE_BYTES
    data = b"[" + b",\n".join([b'{"a": 1}', nested(100_001), nested(MAX_DEPTH + 1), json.dumps({"s": long_text}).encode(),
                               b'{"a": 2}']) + b"]"
    parsed = list(parse(io.BytesIO(data), "json", {}))
    assert [(r.record_number, r.line, r.value, r.error and r.error.split(" (")[0]) for r in parsed] == [
        (1, 1, {"a": 1}, None), (2, 2, None, TOO_DEEP), (3, 3, None, TOO_DEEP), (4, 4, None, TOO_LONG), (5, 5, {"a": 2}, None)]
    assert parsed[2].raw == nested(MAX_DEPTH + 1).decode() and len(parsed[3].raw) == KEPT_BYTES


def test_a_json_document_too_deep_to_parse_is_read_as_lines():
    [record] = parse(io.BytesIO(nested(100_001)), "json", {})
    assert record.error == TOO_DEEP


def test_a_csv_line_longer_than_the_limit_rejects_the_file_naming_it():
    data = b"a,s\n1,x\n2," + b"y" * (MAX_LINE_BYTES + 1) + b"\n3,z\n"
    with pytest.raises(UnreadableSourceError, match=f"line 3: {TOO_LONG}; a CSV file cannot be read past it"):
        list(parse(io.BytesIO(data), "csv", {"a": ["integer"], "s": ["string"]}))


def test_a_csv_field_of_deep_json_stays_text():
    text = "[" * 100_000 + "]" * 100_000
    assert convert_csv_value(text, ["array"]) == text
