"""What one record may cost: how long it is and how deep its arrays and objects nest.

``json``, ``rfc8785`` and ``jsonschema`` recurse once or more per level of nesting
(past Python's recursion limit they raise ``RecursionError``), and Arrow's type
inference of an unknown member overflows the C stack past a few thousand levels;
so a record nested deeper than ``MAX_DEPTH`` is one invalid record before any of
them reads it.  A line longer than ``MAX_LINE_BYTES`` is one invalid record too,
and the readers keep only its head in memory.  64 levels leave room for schemas
whose references take several calls per level of the value.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20  # 1 MiB, as a Kinesis record
MAX_DEPTH = 64
KEPT_BYTES = 1024  # of a line too long to read, the head the quarantine keeps as its raw text
HEAD_BYTES = MAX_LINE_BYTES + 2  # what a reader keeps of a line: enough for its bytes and a "\r\n"
TOO_LONG = f"longer than {MAX_LINE_BYTES} bytes, the limit of a record"
TOO_DEEP = f"arrays and objects nested deeper than {MAX_DEPTH} levels, the limit of a record"
TOO_LONG_RECORD = f"{TOO_LONG} (raw holds its first {KEPT_BYTES} bytes)"
# A string (skipped whole, even when unterminated, so its brackets do not count) or a bracket.
_TOKEN = re.compile(r'"(?:[^"\\]+|\\.)*"?|[\[\]{}]', re.DOTALL)


class TooDeepError(ValueError):
    """JSON text whose arrays and objects nest deeper than ``MAX_DEPTH``."""


def check_depth(text: str, start: int = 0, end: int | None = None) -> None:
    """Raise :class:`TooDeepError` when the JSON in ``text[start:end]`` nests deeper than ``MAX_DEPTH``."""
    end = len(text) if end is None else end
    if text.count("[", start, end) + text.count("{", start, end) <= MAX_DEPTH:
        return  # the common case, without a look at each token
    depth = 0
    for token in _TOKEN.finditer(text, start, end):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise TooDeepError(TOO_DEEP)
        elif bracket in ("]", "}"):
            depth -= 1


def head_text(data: bytes) -> str:
    """The start of a record too long to keep, as text (a character cut in two shows as escapes)."""
    return data[:KEPT_BYTES].decode("utf-8", "backslashreplace")


def content_length(line: bytes) -> int:
    """Bytes of ``line`` without its terminator (``\\n`` or ``\\r\\n``)."""
    return len(line.removesuffix(b"\n").removesuffix(b"\r"))


def bounded_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of ``stream``, each cut to its first ``HEAD_BYTES`` (the rest is read and dropped).

    A line that was cut has no terminator and a :func:`content_length` above ``MAX_LINE_BYTES``.
    """
    while line := stream.readline(HEAD_BYTES):
        if len(line) == HEAD_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(HEAD_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield line
