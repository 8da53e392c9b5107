"""Byte ranges cut anywhere in JSON Lines cover every line exactly once."""
from __future__ import annotations

import io
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.sources import ranges
from chalicelib.sources.ranges import LineRange
from chalicelib.sources.splitting import json_lines_ranges


def read_range(data: bytes, start: int, end: int) -> bytes:
    """What the reader of ``[start, end)`` passes on, fetching from ``start - 1`` as the chunk reader does."""
    first = max(start - 1, 0)
    with LineRange(io.BytesIO(data[first:]), skip_first=start > 0, last=end - 1 - first) as stream:
        return stream.read()


lines = st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=12)


def line_end(data: bytes, start: int) -> int:
    newline = data.find(b"\n", start)
    return len(data) if newline < 0 else newline + 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=lines, final_newline=st.booleans(), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_ranges_cut_anywhere_read_every_line_once_in_order(monkeypatch, lines, final_newline, cuts):
    # GIVEN a file cut at arbitrary offsets (empty ranges, cuts inside lines and right after newlines included)
    monkeypatch.setattr(ranges, "READ_BYTES", 5)
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    # WHEN each range is read
    parts = [read_range(data, start, end) for start, end in itertools.pairwise(bounds)]
    # THEN together they are the file, and each holds exactly the lines that begin in it
    assert b"".join(parts) == data
    line_starts = [0, *(i + 1 for i, byte in enumerate(data) if byte == ord("\n") and i + 1 < len(data))]
    for (start, end), part in zip(itertools.pairwise(bounds), parts):
        owned = [s for s in line_starts if start <= s < end]
        assert part == (data[owned[0] : line_end(data, owned[-1])] if owned else b"")


def test_the_planned_ranges_cover_the_file():
    assert json_lines_ranges(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert json_lines_ranges(8, 4) == [(0, 4), (4, 8)]
    assert json_lines_ranges(3, 64) == [(0, 3)]
