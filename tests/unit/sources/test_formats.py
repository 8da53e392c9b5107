from __future__ import annotations

import io
from pathlib import Path

import pytest

from chalicelib.sources.errors import UnreadableSourceError
from chalicelib.sources.formats import convert_csv_value, detect_format, parse

CASES = Path(__file__).parent / "cases"
TRANSACTION_TYPES = {"transaction_id": ["string"], "amount": ["number"], "currency": ["string"]}


def records(name: str, fmt: str | None = None, types: dict | None = None) -> list:
    data = (CASES / name).read_bytes()
    return list(parse(io.BytesIO(data), fmt or detect_format(name, data[:64]), types or {}))


@pytest.mark.parametrize(
    ("key", "head", "expected"),
    [
        ("raw/x/a.csv", b"a,b", "csv"),
        ("raw/x/a.csv.gz", b"\x1f\x8b", "csv"),
        ("raw/x/a.JSONL", b"{", "jsonl"),
        ("raw/x/a.ndjson.gz", b"", "jsonl"),
        ("raw/x/a.json", b"{", "json"),
        ("raw/x/noext", b"  [", "json"),
        ("raw/x/noext", b"\xef\xbb\xbf{", "jsonl"),
        ("raw/x/noext", b"id,name", "csv"),
    ],
)
def test_detect_format_prefers_extension_then_content(key, head, expected):
    assert detect_format(key, head) == expected


def test_csv_quoted_fields_keep_commas_quotes_and_newlines_and_start_lines():
    # GIVEN a CSV whose first record spans two lines and whose second has an empty field
    parsed = records("quoted_newlines.csv", types={"amount": ["number"]})
    # THEN values are unquoted, converted to the schema's types, and empty fields are absent
    assert [r.value for r in parsed] == [
        {"transaction_id": "tx-1", "timestamp": "2024-01-01T00:00:00Z", "user_id": "u1", "amount": 12.5,
         "currency": "USD", "merchant": 'Shop, "The Best"\nSecond line'},
        {"transaction_id": "tx-2", "timestamp": "2024-01-01T01:00:00Z", "user_id": "u2", "amount": 7, "currency": "EUR"},
    ]
    assert [r.line for r in parsed] == [2, 5]  # the blank line 4 is skipped, not a record
    assert [r.record_number for r in parsed] == [1, 2]


def test_json_lines_bad_bytes_and_bad_json_are_single_invalid_records():
    parsed = records("mixed_lines.jsonl")
    assert [(r.record_number, r.line) for r in parsed] == [(1, 1), (2, 2), (3, 4), (4, 5)]
    assert parsed[0].value == {"a": 1} and parsed[2].value == {"a": 3}
    assert parsed[1].value is None and "not valid UTF-8: byte 0xff at column 7" == parsed[1].error
    assert parsed[1].raw == '{"a": \\xff\\xfe}'
    assert parsed[3].error.startswith("malformed JSON") and parsed[3].raw == "{broken"


def test_byte_order_mark_is_not_part_of_the_first_column_name():
    assert [r.value for r in records("bom.csv")] == [{"id": "x", "amount": "1"}]


def test_json_array_records_carry_their_lines():
    parsed = records("array.json")
    assert [(r.value, r.line) for r in parsed] == [({"a": 1}, 2), ({"a": 2}, 3)]


def test_malformed_json_array_rejects_the_file_naming_line_and_column():
    with pytest.raises(UnreadableSourceError, match=r"line 4 column 1: malformed JSON: Expecting property name"):
        records("malformed_array.json")


def test_json_lines_saved_with_a_json_extension_still_parse():
    assert [r.value for r in records("lines_saved_as.json")] == [{"a": 1}, {"a": 2}]


def test_ragged_csv_rows_are_invalid_records_and_parsing_goes_on():
    parsed = records("ragged.csv")
    assert parsed[0].error == "row has 3 fields, the header has 2"
    assert parsed[1].error == "row has 1 fields, the header has 2"
    assert parsed[2].value == {"a": "5", "b": "6"}


def test_non_utf8_csv_row_is_one_invalid_record():
    parsed = records("latin1_row.csv")
    assert parsed[0].error == "not valid UTF-8: byte 0xe9" and parsed[0].raw == "x,caf\\xe9"
    assert parsed[1].value == {"id": "y", "name": "ok"}


def test_gzip_is_detected_by_magic_bytes():
    parsed = records("records.jsonl.gz", fmt="jsonl")
    assert len(parsed) == 50 and all(r.value == {"a": 1} for r in parsed)


@pytest.mark.parametrize("name", ["truncated.jsonl.gz", "not_gzip_inside.gz"])
def test_corrupt_gzip_rejects_the_file(name):
    with pytest.raises(UnreadableSourceError, match="corrupt gzip stream"):
        records(name, fmt="jsonl")


@pytest.mark.parametrize(
    ("header", "message"),
    [(b"a,a\n1,2\n", "repeats column"), (b"a,,b\n1,2,3\n", "empty column name")],
)
def test_unusable_csv_header_rejects_the_file(header, message):
    with pytest.raises(UnreadableSourceError, match=message):
        list(parse(io.BytesIO(header), "csv", {}))


def test_nan_and_infinity_are_not_json():
    parsed = list(parse(io.BytesIO(b'{"a": NaN}\n{"a": -Infinity}\n'), "jsonl", {}))
    assert all(r.error and "is not a JSON value" in r.error for r in parsed)


@pytest.mark.parametrize(
    ("text", "types", "expected"),
    [
        ("12.50", ["number"], 12.5),
        ("100", ["number"], 100),
        ("1e3", ["number"], 1000.0),
        ("abc", ["number"], "abc"),
        ("NaN", ["number"], "NaN"),
        ("7", ["integer"], 7),
        ("TRUE", ["boolean"], True),
        ("007", ["string"], "007"),
        ('["a","b"]', ["array"], ["a", "b"]),
        ("[oops", ["array"], "[oops"),
        ("5", ["null", "integer"], 5),
    ],
)
def test_csv_values_are_converted_to_the_schema_type_or_left_as_text(text, types, expected):
    value = convert_csv_value(text, types)
    assert value == expected and type(value) is type(expected)
