"""The JSON array reader streams: whatever the size of the blocks it reads, it finds the same records."""
from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.sources import arrays
from chalicelib.sources.errors import UnreadableSourceError
from chalicelib.sources.limits import KEPT_BYTES, MAX_LINE_BYTES, TOO_DEEP, TOO_LONG_RECORD


def read(data: bytes) -> list[tuple]:
    return [record[:4] for record in arrays.json_array_records(io.BytesIO(data))]


@pytest.fixture
def tiny_blocks(monkeypatch):
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 3)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(json_values, max_size=6), indent=st.sampled_from([None, 0, 2]))
def test_records_and_their_lines_do_not_depend_on_the_block_size(monkeypatch, records, indent):
    # GIVEN an array, minified or pretty-printed (a record may span lines, a number or a string a block boundary)
    data = json.dumps(records, indent=indent).encode()
    whole = read(data)
    # WHEN it is read three bytes at a time
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 3)
    # THEN the records, their values and lines are the same, and the values are json's
    assert read(data) == whole
    assert [value for _, value, _, _ in whole] == records
    lines = data.decode().split("\n")
    assert all(line == 1 if indent is None else lines[line - 1].strip() != "" for line, _, _, _ in whole)


def test_a_minified_array_on_one_line_is_read_record_by_record(tiny_blocks):
    data = b'\xef\xbb\xbf[{"a": 12345}, {"b": "x,]y"}, 6.5e-3, "s\\"]"]'
    assert read(data) == [(1, {"a": 12345}, None, None), (1, {"b": "x,]y"}, None, None), (1, 6.5e-3, None, None),
                          (1, 's"]', None, None)]


def test_a_record_longer_than_a_record_may_be_is_skipped_to_its_end_keeping_its_head(tiny_blocks, monkeypatch):
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 1 << 16)
    long_record = json.dumps({"s": "é" * MAX_LINE_BYTES, "t": [1, {"u": "]"}]}).encode()
    data = b'[{"a": 1},\n' + long_record + b',\n{"a": 2}]'
    [first, (line, value, raw, error), last] = read(data)
    assert (line, value, error) == (2, None, TOO_LONG_RECORD) and len(raw.encode()) <= KEPT_BYTES
    assert raw.startswith('{"s": "') and first[1] == {"a": 1} and last == (3, {"a": 2}, None, None)


def test_a_record_nested_too_deep_is_one_invalid_record_with_its_text(tiny_blocks):
    deep = "[" * 100_001 + "]" * 100_001
    [(_, value, raw, error), after] = read(f'[{deep}, {{"a": 1}}]'.encode())
    assert (value, raw, error) == (None, deep, TOO_DEEP) and after[1] == {"a": 1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[\n  {"a": 1},\n  {"a": 2,\n]', r"line 4 column 1: malformed JSON: Expecting property name"),
        (b'[{"a": 1} {"a": 2}]', r"line 1 column 11: expected ',' or ']' between records"),
        (b'[{"a": 1}]\n x', r"line 1 column 11: unexpected data after the closing '\]'"),
        (b'[{"a": 1},\n', r"line 2 column 1: unexpected end of file inside the JSON array"),
        (b'[{"a": "\xff"}]', r"line 1: not valid UTF-8 \(byte 0xff\)"),
        (b'[\n\n{"a": "unterminated}]', r"line 3 column 7: malformed JSON: Unterminated string"),
    ],
)
def test_what_leaves_the_rest_unreadable_rejects_the_file_naming_line_and_column(tiny_blocks, data, message):
    with pytest.raises(UnreadableSourceError, match=message):
        read(data)
