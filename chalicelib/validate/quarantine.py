"""The run's quarantine file, put together from its chunks' quarantine parts.

Each chunk numbers its records and lines from 1; here each line of each part
gets the numbers it has in the file (the records and lines of the chunks before
added), and the lines stream to one object in order, a part at a time: nothing
holds the whole file, and no local disk is used.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from chalicelib.storage.objects import ObjectStore, zstd_decompressed

# The start of every quarantine line (chalicelib.validate.reasons.quarantine_line): the numbers follow two strings.
_NUMBERS = re.compile(rb'^(\{"run_id": "(?:[^"\\]|\\.)*", "source": "(?:[^"\\]|\\.)*", "record_number": )(\d+)'
                      rb'(, "line": )(\d+|null)')


@dataclass(frozen=True)
class QuarantinePart:
    """One chunk's quarantine part, and how many records and lines come before its chunk."""

    key: str
    records_before: int
    lines_before: int


def renumbered(line: bytes, records_before: int, lines_before: int) -> bytes:
    """A quarantine line with its record and line numbers counted in the file."""
    def shift(match: re.Match[bytes]) -> bytes:
        line_number = match.group(4)
        shifted = line_number if line_number == b"null" else str(int(line_number) + lines_before).encode()
        return match.group(1) + str(int(match.group(2)) + records_before).encode() + match.group(3) + shifted

    result, found = _NUMBERS.subn(shift, line, count=1)
    if not found:
        raise ValueError(f"not a quarantine line: {line[:120]!r}")
    return result


class _Joined(io.RawIOBase):
    """A readable stream of the bytes an iterator yields."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces, self._pending = pieces, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            self._pending = next(self._pieces, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


def _lines(objects: ObjectStore, bucket: str, parts: Iterable[QuarantinePart]) -> Iterator[bytes]:
    for part in parts:
        with zstd_decompressed(objects.open_range(bucket, part.key)) as stream:
            for line in stream:
                yield renumbered(line, part.records_before, part.lines_before)


def write_quarantine(objects: ObjectStore, bucket: str, key: str, parts: list[QuarantinePart]) -> None:
    """Stream the renumbered lines of ``parts``, in order, to ``key``."""
    stream = io.BufferedReader(_Joined(_lines(objects, bucket, parts)), buffer_size=1 << 20)
    objects.upload_stream(stream, bucket, key, "application/x-ndjson")
