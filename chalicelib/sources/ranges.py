"""The lines of a byte range of a JSON Lines file, read without reading the file.

A range ``[start, end)`` owns every line that *begins* in it.  Its reader fetches
from byte ``start - 1`` on: the bytes up to and including the first newline end
the line the previous range owns, and are skipped (when byte ``start - 1`` is
that newline, only it is); then it passes lines on until the one holding byte
``end - 1`` is complete, reading past ``end`` as far as that line goes.  So
ranges cut anywhere cover every line exactly once, and a range that falls inside
one long line is empty.
"""
from __future__ import annotations

import io
from typing import BinaryIO

READ_BYTES = 1 << 20


class LineRange(io.RawIOBase):
    """The lines that begin in a range, from a stream of the object that starts one byte before it.

    Parameters
    ----------
    stream
        The object's bytes from ``start - 1`` (from 0 when ``start`` is 0) to its end.
    skip_first
        The stream starts one byte before the range: skip through its first newline.
    last
        Offset, in ``stream``, of the range's last byte; ``None``: the range runs to the end.
    """

    def __init__(self, stream: BinaryIO, *, skip_first: bool, last: int | None) -> None:
        self._stream = stream
        self._skipping = skip_first
        self._last = last
        self._pending = b""
        self._offset = 0  # offset in the stream of _pending[0]
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        while not self._done:
            if not self._pending:
                self._pending = self._stream.read(READ_BYTES)
                if not self._pending:
                    self._done = True
                    break
            if self._skipping:
                newline = self._pending.find(b"\n")
                self._advance(len(self._pending) if newline < 0 else newline + 1)
                if newline >= 0:
                    self._skipping = False
                    if self._last is not None and self._offset > self._last:
                        self._done = True  # no line begins in the range
                continue
            return self._emit(size)
        return b""

    def _emit(self, size: int) -> bytes:
        take = min(size, len(self._pending))
        if self._last is not None and self._offset + take > self._last:
            newline = self._pending.find(b"\n", max(0, self._last - self._offset), take)
            if newline >= 0:  # the line holding the range's last byte ends here
                take, self._done = newline + 1, True
        data = self._pending[:take]
        self._advance(take)
        return data

    def _advance(self, count: int) -> None:
        self._pending = self._pending[count:]
        self._offset += count

    def close(self) -> None:
        self._stream.close()
        super().close()
