"""Differential tests: the columnar JSON Lines reader stages what the per-line reader stages."""
from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.canonical import canonical_text
from chalicelib.datasets import Dataset
from chalicelib.sources import columnar
from chalicelib.sources.formats import decompressed, parse
from chalicelib.sources.staged import ingested_schema, parse_types, parsed_batches

DATASET = Dataset(
    name="mixed",
    schema={
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "flag": {"type": "boolean"},
            "note": {"type": ["string", "null"]},
            "é": {"type": "string"},
        },
    },
)
SCHEMA = ingested_schema(parse_types(DATASET))

texts = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(["", '"', "\\", "a\"b\\c", "€", "😀", "\u2028"])
floats = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0, -0.0, 1.0, 5e-324, 1e21, 1e-7, 123456789012345.6, 1e16, 0.1, 1e300, 2.0**53])
    | st.integers(-(2**60), 2**60)
)
wrong = st.sampled_from(["12", [1], {"x": 1}, True, 1.5])
members = {
    "text": texts | wrong,
    "count": st.integers(-(2**64), 2**64) | wrong,
    "ratio": floats | wrong,
    "flag": st.booleans() | wrong,
    "note": texts | st.none(),
    "é": texts,
    "extra": st.integers() | st.none(),
}
records = st.fixed_dictionaries({}, optional=members)
garbage = st.sampled_from([b"", b"   ", b"\t\r", b"not json", b"[1, 2]", b"5", b'{"text": "x"} {"text": "y"}',
                           b'{"ratio": NaN}', b'{"ratio": -Infinity}', b'{"count": 1.0}', b'{"text": "\xff"}',
                           b'{"text": "a", "text": "b"}', b'{"ratio": 1e400}', b'{"text": "\\ud800"}', b"\xef\xbb\xbf{}",
                           b' \xef\xbb\xbf{}', b'{"text": "\xef\xbb\xbf"}',
                           b'{"extra": ' + b"[" * 63 + b"]" * 63 + b"}", b'{"extra": ' + b"[" * 64 + b"]" * 64 + b"}",
                           b'{"text": "' + b"[" * 70 + b'"}'])


def _line(record: dict, ascii_only: bool, spaced: bool) -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(record, ensure_ascii=ascii_only, separators=separators).encode()


lines = st.lists(
    st.one_of(
        st.builds(_line, records, st.booleans(), st.booleans()),
        st.builds(_line, records, st.booleans(), st.booleans()),
        garbage,
    ),
    max_size=60,
)


def _staged(data: bytes, reader) -> pa.Table:
    return pa.Table.from_batches(list(reader(io.BytesIO(data))), schema=SCHEMA)


def _per_line(stream):
    return parsed_batches(parse(stream, "jsonl", DATASET.field_types), SCHEMA)


def _columnar(stream):
    return columnar.read_json_lines(decompressed(stream), SCHEMA)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=lines, newline=st.sampled_from([b"\n", b"\r\n"]), final_newline=st.booleans())
def test_columnar_reader_stages_what_the_per_line_reader_stages(monkeypatch, lines, newline, final_newline):
    # GIVEN small blocks and parts, so block edges and the halving of refused parts are exercised
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 97)
    monkeypatch.setattr(columnar, "SMALLEST_PART", 2)
    data = newline.join(lines) + (newline if final_newline else b"")
    # WHEN both readers stage the file
    expected, got = _staged(data, _per_line), _staged(data, _columnar)
    # THEN positions, canonical text, raw text and errors are the same, row for row
    assert got.drop_columns(["values"]).to_pylist() == expected.drop_columns(["values"]).to_pylist()
    # AND the typed values of columnar rows are the record's own values
    for row in got.to_pylist():
        if row["values"] is not None:
            present = {k: v for k, v in row["values"].items() if v is not None}
            assert present == json.loads(row["record"])


def test_most_rows_of_a_clean_file_take_the_columnar_path():
    data = b"".join(_line({"text": f"t{i}", "count": i, "ratio": i / 7, "flag": i % 2 == 0}, False, False) + b"\n"
                    for i in range(1000))
    staged = _staged(data, _columnar)
    assert staged.num_rows == 1000
    assert staged["values"].null_count == 0


def test_gzip_and_a_bad_line_among_good_ones():
    good = [_line({"text": str(i), "count": i}, False, False) for i in range(300)]
    data = gzip.compress(b"\n".join(good[:150] + [b'{"count": "x"}'] + good[150:]) + b"\n")
    staged = _staged(data, _columnar)
    assert staged.num_rows == 301
    # only the bad line's small part went through the per-line reader
    assert 1 <= staged["values"].null_count <= columnar.SMALLEST_PART
    assert staged.to_pylist()[150]["record"] == '{"count":"x"}'


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({}, optional={"s": texts, "i": st.integers(-(2**63), 2**63 - 1),
                                                         "f": floats.map(float), "b": st.booleans(), "ü": texts}),
                     min_size=1, max_size=20))
@pytest.mark.parametrize("hinted", [False, True], ids=["any-row-may-escape", "escapes-where-json-has-backslash"])
def test_canonical_text_equals_rfc8785_where_it_vouches_for_it(rows, hinted):
    types = {"s": pa.string(), "i": pa.int64(), "f": pa.float64(), "b": pa.bool_(), "ü": pa.string()}
    columns = {name: pa.array([row.get(name) for row in rows], kind) for name, kind in types.items()}
    # the hint ingest gives: a row's strings need escaping only where its JSON text holds a backslash
    escapable = pa.array(["\\" in json.dumps(row, ensure_ascii=False) for row in rows]) if hinted else None
    text, exact = canonical_text(columns, escapable)
    for row, canonical, vouched in zip(rows, text.to_pylist(), exact.to_pylist()):
        if vouched:
            assert canonical == rfc8785.dumps(row).decode()


@pytest.mark.parametrize("value", [1.0, 0.5, 100.0, 1234.5678, 1e-6, 99999.99, 12345.67])
def test_canonical_text_vouches_for_everyday_numbers(value):
    text, exact = canonical_text({"f": pa.array([value])})
    assert exact.to_pylist() == [True]
    assert text.to_pylist() == [rfc8785.dumps({"f": value}).decode()]


def test_an_unknown_member_of_another_type_in_each_part_is_left_to_the_per_line_reader():
    # GIVEN an unknown member Arrow infers as a list in one part of the block and as an integer in another
    data = b"".join([b'{"text": "a", "x": [1]}\n'] * 100 + [b'{"text": "a", "x": 1}\n'] * 100 + [b'{"text": "b"}\n'])
    # WHEN both readers stage the file
    expected, got = _staged(data, _per_line), _staged(data, _columnar)
    # THEN they agree row for row, and only the record without it took the columnar path
    assert got.drop_columns(["values"]).to_pylist() == expected.drop_columns(["values"]).to_pylist()
    assert got["values"].null_count == 200
