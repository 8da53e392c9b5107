"""Where a source file can be cut into chunks of about ``chunk_bytes`` each.

- JSON Lines: anywhere; each range owns the lines that begin in it
  (:mod:`chalicelib.sources.ranges`), so nothing needs to be read to cut it.
- CSV: only between records, and a quoted field may hold newlines, so the file
  is read once with the same CSV reader the chunks use, counting bytes.
- A stream that cannot be read by range (gzip) is copied into parts as it is
  read, cut at the same boundaries.
"""
from __future__ import annotations

from typing import BinaryIO, Protocol

from chalicelib.sources.formats import check_csv_header, csv_rows, numbered_lines

BLOCK_BYTES = 8 << 20


class Parts(Protocol):
    """Where a stream's bytes are copied, part after part."""

    def write(self, data: bytes) -> None: ...

    def cut(self) -> None:
        """End the current part: what is written next starts the next part (no part is left empty)."""


def json_lines_ranges(size: int, chunk_bytes: int) -> list[tuple[int, int]]:
    """``[start, end)`` byte ranges of ``chunk_bytes`` covering a JSON Lines file of ``size`` bytes."""
    return [(start, min(start + chunk_bytes, size)) for start in range(0, max(size, 1), chunk_bytes)]


def split_json_lines(stream: BinaryIO, chunk_bytes: int, parts: Parts) -> None:
    """Copy ``stream`` into ``parts`` of about ``chunk_bytes``, each ending with the line that holds its last byte."""
    size = 0
    while block := stream.read(BLOCK_BYTES):
        while block:
            if size + len(block) < chunk_bytes:
                parts.write(block)
                size += len(block)
                break
            newline = block.find(b"\n", max(chunk_bytes - size - 1, 0))
            if newline < 0:
                parts.write(block)
                size += len(block)
                break
            parts.write(block[: newline + 1])
            parts.cut()
            size, block = 0, block[newline + 1 :]


class _Counted:
    """A buffered stream whose lines are counted in bytes (and copied to ``parts``) as they are read."""

    def __init__(self, stream: BinaryIO, parts: Parts | None) -> None:
        self._stream, self._parts = stream, parts
        self.position = 0

    def readline(self, size: int = -1) -> bytes:
        line = self._stream.readline(size)
        self.position += len(line)
        if self._parts is not None and line:
            self._parts.write(line)
        return line


def split_csv(stream: BinaryIO, chunk_bytes: int, parts: Parts | None = None) -> tuple[list[str], list[int]]:
    """The header's column names, and the offsets at which to cut the CSV in ``stream`` into chunks.

    Each cut follows the record that brings its chunk to ``chunk_bytes`` or more.
    With ``parts``, the stream's bytes are also copied into parts cut there.

    Raises
    ------
    UnreadableSourceError
        Where a chunk reader would raise it: a quote never closed, a line too long, a bad header.
    """
    counted = _Counted(stream, parts)
    header: list[str] | None = None
    cuts: list[int] = []
    chunk_start = 0
    for line, row in csv_rows(numbered_lines(counted)):  # type: ignore[arg-type]
        if header is None:
            header = check_csv_header(row, line)
        if counted.position - chunk_start >= chunk_bytes:
            chunk_start = counted.position
            cuts.append(chunk_start)
            if parts is not None:
                parts.cut()
    if cuts and cuts[-1] == counted.position:  # nothing after the last cut: no empty chunk at the end
        cuts.pop()
    return header or [], cuts
