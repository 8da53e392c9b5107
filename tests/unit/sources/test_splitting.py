"""Where sources are cut: CSV only between records (quoted newlines respected), streams copied whole into parts."""
from __future__ import annotations

import csv
import io
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.sources.errors import UnreadableSourceError
from chalicelib.sources.formats import parse_part
from chalicelib.sources.splitting import split_csv, split_json_lines


class Collected:
    """Parts kept in memory."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self._current: bytearray | None = None

    def write(self, data: bytes) -> None:
        if self._current is None:
            self._current = bytearray()
        self._current += data

    def cut(self) -> None:
        if self._current is not None:
            self.parts.append(bytes(self._current))
            self._current = None


def csv_file(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)  # QUOTE_MINIMAL: fields holding a comma, quote, CR or LF are quoted
    writer.writerow(["id", "note"])
    writer.writerows(rows)
    return text.getvalue().encode()


def records(data: bytes, header: list[str] | None = None, *, first: bool = True) -> list:
    return [(r.value, r.raw, r.error) for r in parse_part(io.BytesIO(data), "csv", {}, at_file_start=first, header=header)]


fields = st.text(alphabet=st.sampled_from(list('ab ,"\n\r')), max_size=6)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(fields, min_size=2, max_size=2), max_size=10), chunk_bytes=st.integers(1, 40))
def test_csv_chunks_read_the_records_the_whole_file_holds(rows, chunk_bytes):
    # GIVEN a CSV whose quoted fields hold commas, quotes and newlines
    data = csv_file(rows)
    # WHEN it is cut into chunks of about chunk_bytes
    header, cuts = split_csv(io.BytesIO(data), chunk_bytes)
    bounds = [0, *cuts, len(data)]
    # THEN each chunk, read with the header, holds whole records: together, the file's records in order
    chunks = [records(data[a:b], header if i else None, first=i == 0) for i, (a, b) in enumerate(itertools.pairwise(bounds))]
    assert header == ["id", "note"]
    assert [(value, raw, error) for chunk in chunks for value, raw, error in chunk] == records(data)
    assert all(b - a >= chunk_bytes for a, b in itertools.pairwise(bounds[:-1]))  # only the last chunk may be short


def test_csv_parts_are_copied_and_cut_where_the_ranges_would_be():
    data = csv_file([["1", "x\ny"], ["2", 'a "q"'], ["3", "z"]])
    parts = Collected()
    _header, cuts = split_csv(io.BytesIO(data), 12, parts)
    parts.cut()
    assert b"".join(parts.parts) == data and [len(p) for p in parts.parts[:-1]] == [b - a for a, b in zip([0, *cuts], cuts)]


def test_a_csv_that_no_reader_could_read_is_refused_while_cutting():
    with pytest.raises(UnreadableSourceError, match="line 2: malformed CSV"):
        split_csv(io.BytesIO(b'id,note\n1,"never closed\n2,x\n'), 4)


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.binary(max_size=9).map(lambda b: b.replace(b"\n", b"")), max_size=12),
       chunk_bytes=st.integers(1, 30), final_newline=st.booleans())
def test_json_lines_parts_end_at_line_ends_and_hold_the_stream(lines, chunk_bytes, final_newline):
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    parts = Collected()
    split_json_lines(io.BytesIO(data), chunk_bytes, parts)
    parts.cut()
    assert b"".join(parts.parts) == data
    assert all(part.endswith(b"\n") and len(part) >= chunk_bytes for part in parts.parts[:-1])
    assert all(part for part in parts.parts)  # no empty part
