"""Reading a JSON array of records as a stream, one record at a time.

A JSON array cannot be split by byte range (a record may span lines, and a
comma may sit inside a string), so it is read once, front to back, through a
window of decoded text that holds the record being read and little more: a
file of any size costs the memory of its largest record, and a record longer
than a record may be (``MAX_LINE_BYTES``) is skipped to its end without being
held whole.  Each record keeps the line it starts on; a record too deep or too
long is one invalid record and the array goes on; a fault that leaves the rest
unreadable (malformed JSON between records, bytes that are not UTF-8) rejects
the file, naming line and column.
"""
from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

from chalicelib.sources.errors import UnreadableSourceError
from chalicelib.sources.limits import HEAD_BYTES, MAX_LINE_BYTES, TOO_DEEP, TOO_LONG_RECORD, TooDeepError, check_depth, head_text

BLOCK_BYTES = 8 << 20
_NOT_SPACE = re.compile(r"[^ \t\r\n]")  # JSON's white space is these four
_NUMBER_TAIL = re.compile(r"[0-9.eE+-]*\Z")
# A string (possibly cut off by the end of the window), a bracket, or the run of any other scalar.
_TOKEN = re.compile(r'"(?:[^"\\]+|\\.)*("?)|[\[\]{}]|[^\s,\[\]{}"]+', re.DOTALL)


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


class _Window:
    """Decoded text of a stream from absolute character ``base`` on, read a block at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.base = 0  # absolute index of text[0]
        self.eof = False
        self._line = 1  # line of text[0]
        self._column = 1  # column of text[0]
        self._lines_decoded = 0  # newlines in all text decoded so far
        self._mark, self._mark_line = 0, 1  # a position and its line: records' lines are counted on from the last

    @property
    def end(self) -> int:
        return self.base + len(self.text)

    def more(self) -> bool:
        """Decode the next block onto the window; ``False`` at the end of the stream."""
        if self.eof:
            return False
        block = self._stream.read(BLOCK_BYTES)
        try:
            text = self._decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            line = self._lines_decoded + error.object.count(b"\n", 0, error.start) + 1
            raise UnreadableSourceError(f"line {line}: not valid UTF-8 (byte 0x{error.object[error.start]:02x})") from error
        if not block:
            self.eof = True
        if not self.base and not self.text:
            text = text.removeprefix("\ufeff")
        self._lines_decoded += text.count("\n")
        self.text += text
        return bool(block)

    def fill(self, position: int, chars: int = 1) -> bool:
        """Read until the window holds ``chars`` characters from ``position`` (``False`` when the stream ends first)."""
        while self.end < position + chars:
            if not self.more():
                return False
        return True

    def char(self, position: int) -> str:
        return self.text[position - self.base] if self.fill(position) else ""

    def drop_before(self, position: int) -> None:
        """Forget the text before ``position`` (keeping the line and column of what stays).

        The text is cut only once at least half of it is behind ``position``: a cut
        copies what stays, so cutting after every record would copy the window
        once per record.  Memory stays within about twice the window.
        """
        cut = position - self.base
        if 2 * cut < len(self.text):
            return
        newlines = self.text.count("\n", 0, cut)
        if newlines:
            self._line += newlines
            self._column = cut - self.text.rfind("\n", 0, cut)
        else:
            self._column += cut
        self.text, self.base = self.text[cut:], position
        if self._mark < position:
            self._mark, self._mark_line = position, self._line

    def line_of(self, position: int) -> int:
        if position < self._mark:
            return self._line + self.text.count("\n", 0, position - self.base)
        self._mark_line += self.text.count("\n", self._mark - self.base, position - self.base)
        self._mark = position
        return self._mark_line

    def error(self, position: int, message: str) -> UnreadableSourceError:
        cut = min(position, self.end) - self.base
        newline = self.text.rfind("\n", 0, cut)
        column = cut - newline if newline >= 0 else self._column + cut
        return UnreadableSourceError(f"line {self.line_of(position)} column {column}: {message}")


def _skip_space(window: _Window, position: int) -> int:
    while True:
        if not window.fill(position):
            raise window.error(position, "unexpected end of file inside the JSON array")
        found = _NOT_SPACE.search(window.text, position - window.base)
        if found is not None:
            return window.base + found.start()
        position = window.end


def _value_end(window: _Window, start: int) -> int | None:
    """Where the value at ``start`` ends, reading on as needed; ``None`` when the stream ends first.

    Once the value is longer than a record may be, the text scanned is dropped as the scan goes.
    """
    depth, position = 0, start
    while window.fill(position):
        match = _TOKEN.match(window.text, position - window.base)
        if match is None:  # a comma or white space between tokens
            position += 1
            continue
        token = match.group()
        if match.end() == len(window.text) and not window.eof and token not in ("[", "]", "{", "}"):
            window.more()  # the token may go on past the window
            continue
        if token.startswith('"') and not match.group(1):
            return None  # a string the file never closes
        position = window.base + match.end()
        if token in ("[", "{"):
            depth += 1
        elif token in ("]", "}"):
            depth -= 1
        if depth <= 0:
            return position
        if position - start > HEAD_BYTES:
            window.drop_before(position)
    return None


class ArrayRecord(NamedTuple):
    """A record of a JSON array: the line it starts on, its value (or raw text and error), and its length."""

    line: int
    value: Any
    raw: str | None
    error: str | None
    chars: int  # of the array's text the record spans


def json_array_records(stream: BinaryIO) -> Iterator[ArrayRecord]:
    """Each record of the JSON array ``stream`` holds, in order.

    ``stream`` must start with the array (after optional white space and a byte-order mark).

    Raises
    ------
    UnreadableSourceError
        When the rest of the array cannot be read.
    """
    window = _Window(stream)
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    position = _skip_space(window, 0)
    if window.char(position) != "[":
        raise window.error(position, "expected '[' at the start of a JSON array")
    position += 1
    count = 0
    while True:
        position = _skip_space(window, position)
        if window.char(position) == "]":
            break
        if count:
            if window.char(position) != ",":
                raise window.error(position, "expected ',' or ']' between records")
            position = _skip_space(window, position + 1)
        window.drop_before(position)
        line = window.line_of(position)
        value, raw, error, end = _record(window, decoder, position)
        count += 1
        yield ArrayRecord(line, value, raw, error, end - position)
        position = end
    trailing = window.error(position + 1, "unexpected data after the closing ']'")
    window.drop_before(position + 1)
    while True:
        if window.text.strip():
            raise trailing
        window.drop_before(window.end)
        if not window.more():
            return


def _record(window: _Window, decoder: json.JSONDecoder, start: int) -> tuple[Any, str | None, str | None, int]:
    """The record at ``start``: ``(value, raw, error, end)``."""
    while True:
        try:
            value, end = decoder.raw_decode(window.text, start - window.base)
        except RecursionError:  # json's decoder recurses per level, up to Python's recursion limit
            return _skipped(window, start, TOO_DEEP)
        except json.JSONDecodeError as error:
            if window.end - start <= HEAD_BYTES and window.more():
                continue  # the record may go on past the window
            return _skipped(window, start, None, window.error(window.base + error.pos, f"malformed JSON: {error.msg}"))
        if _NUMBER_TAIL.match(window.text, end) and window.more():
            continue  # a number at the end of the window may go on (more digits, a fraction, an exponent)
        return _checked(window, start, window.base + end, value)


def _too_long(text: str) -> bool:
    # A character takes one to four bytes in UTF-8: encode only when the count of characters cannot tell.
    return len(text) > MAX_LINE_BYTES or (4 * len(text) > MAX_LINE_BYTES and len(text.encode()) > MAX_LINE_BYTES)


def _checked(window: _Window, start: int, end: int, value: Any) -> tuple[Any, str | None, str | None, int]:
    """A decoded record, unless it costs more than a record may."""
    text = window.text[start - window.base : end - window.base]
    if _too_long(text):
        return None, head_text(text.encode()), TOO_LONG_RECORD, end
    try:
        check_depth(text)
    except TooDeepError as error:
        return None, text, str(error), end
    return value, None, None, end


def _skipped(window: _Window, start: int, problem: str | None,
             malformed: UnreadableSourceError | None = None) -> tuple[Any, str | None, str | None, int]:
    """A record json could not decode: too deep or too long (its text or head, skipped to its end), or malformed.

    Raises
    ------
    UnreadableSourceError
        ``malformed`` when the record is neither too deep nor too long; the end of the file inside the record.
    """
    head = window.text[start - window.base : start - window.base + HEAD_BYTES + 1]
    end = _value_end(window, start)
    if end is None:
        raise malformed or window.error(window.end, "unexpected end of file inside the JSON array")
    text = head if end - start > HEAD_BYTES else window.text[start - window.base : end - window.base]
    if _too_long(text):
        return None, head_text(text.encode()), TOO_LONG_RECORD, end
    if malformed is not None:
        raise malformed
    return None, text, problem, end
