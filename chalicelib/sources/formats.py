"""Parsing source files into records: CSV, JSON Lines, JSON arrays, gzip or not.

Every record keeps the line it starts on, so a reason can name it.  A line that
cannot be decoded or parsed, or costs more than :mod:`chalicelib.sources.limits`
allows, becomes one invalid record and parsing goes on; only a fault that makes
the rest of the file unreadable (a corrupt gzip stream, a malformed JSON array,
a CSV header that cannot be a header, a CSV line too long to read) stops it.
"""
from __future__ import annotations

import codecs
import csv
import functools
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, cast

from chalicelib.datasets.columns import JSON_TYPES
from chalicelib.sources.arrays import json_array_records
from chalicelib.sources.errors import UnreadableSourceError
from chalicelib.sources.limits import (
    MAX_LINE_BYTES,
    TOO_LONG,
    TOO_LONG_RECORD,
    TooDeepError,
    bounded_lines,
    check_depth,
    content_length,
    head_text,
)

Format = Literal["csv", "jsonl", "json"]
GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, OSError)  # what reading a corrupt gzip stream raises
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_JSON_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_CONVERTED_TYPES = frozenset({"number", "integer", "boolean", "array", "object"})  # CSV text may become one of these
_SURROGATES = re.compile(r"[\udc80-\udcff]")


@dataclass(frozen=True)
class ParsedRecord:
    """One record as read from the file.

    Attributes
    ----------
    record_number
        1-based position among the file's records.
    line
        Line the record starts on (1-based).
    value
        The parsed value, or ``None`` when it could not be parsed.
    raw
        The source text, kept only when the record could not be parsed.
    error
        Why the record could not be parsed.
    """

    record_number: int
    line: int
    value: Any = None
    raw: str | None = None
    error: str | None = None


def detect_format(key: str, head: bytes) -> Format:
    """Choose a parser from the key's extension, falling back to the content."""
    name = key.lower().removesuffix(".gz").removesuffix(".gzip")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first == b"[":
        return "json"
    if first == b"{":
        return "jsonl"
    return "csv"


def decompressed(stream: BinaryIO) -> BinaryIO:
    """Wrap ``stream`` in a gzip reader when it starts with the gzip magic bytes.

    Whatever reads it then meets a corrupt stream as :class:`UnreadableSourceError`.
    """
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, stream))
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return cast(BinaryIO, io.BufferedReader(_GzipText(gzip.GzipFile(fileobj=buffered, mode="rb")), buffer_size=1 << 16))
    return buffered


class _GzipText(io.RawIOBase):
    """A gzip stream's text, read raw: its corruption is the source's, named once here for every reader."""

    def __init__(self, compressed: gzip.GzipFile) -> None:
        self._compressed = compressed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._compressed.readinto(buffer)
        except _GZIP_ERRORS as error:
            raise UnreadableSourceError(f"corrupt gzip stream: {error}") from error

    def close(self) -> None:
        self._compressed.close()
        super().close()


def parse(stream: BinaryIO, fmt: Format, field_types: dict[str, list[str]]) -> Iterator[ParsedRecord]:
    """Yield the records of a whole (possibly gzip-compressed) file.

    Parameters
    ----------
    field_types
        JSON Schema types per property; CSV values are converted to them.

    Raises
    ------
    UnreadableSourceError
        When the rest of the file cannot be read.
    """
    yield from parse_part(decompressed(stream), fmt, field_types)


def parse_part(stream: BinaryIO, fmt: Format, field_types: dict[str, list[str]], *, at_file_start: bool = True,
               header: list[str] | None = None, lines: LineCount | None = None) -> Iterator[ParsedRecord]:
    """Yield the records of an uncompressed part of a file, numbered from 1 within it.

    Parameters
    ----------
    at_file_start
        The part starts the file: a byte-order mark there is not content (and a CSV part starts with its header).
    header
        The CSV header of a part that does not start the file.
    lines
        Counts the lines read.
    """
    if fmt == "json":
        yield from _parse_json_document(stream)
        return
    numbered = numbered_lines(stream, at_file_start=at_file_start, count=lines)
    if fmt == "csv":
        yield from _parse_csv(numbered, field_types, header)
    else:
        yield from _parse_json_lines(numbered)


@dataclass
class LineCount:
    """How many lines a reader went through (blank ones included)."""

    lines: int = 0


def numbered_lines(stream: BinaryIO, *, at_file_start: bool = True, count: LineCount | None = None) -> Iterator[tuple[int, bytes]]:
    """Lines numbered from 1, cut as :func:`chalicelib.sources.limits.bounded_lines` cuts them."""
    for number, line in enumerate(bounded_lines(stream), start=1):
        if number == 1 and at_file_start:
            line = line.removeprefix(codecs.BOM_UTF8)
        if count is not None:
            count.lines = number
        yield number, line


def _whole(stream: BinaryIO) -> bytes:
    return stream.read().removeprefix(codecs.BOM_UTF8)


def _decode_error(line: bytes, error: UnicodeDecodeError) -> str:
    return f"not valid UTF-8: byte 0x{line[error.start]:02x} at column {error.start + 1}"


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def parse_json_value(text: str) -> Any:
    """Parse JSON as RFC 8259 defines it (NaN and Infinity are not JSON), nested at most ``MAX_DEPTH`` deep.

    Raises
    ------
    ValueError
        When ``text`` is not JSON; :class:`~chalicelib.sources.limits.TooDeepError` when it nests too deep.
    """
    check_depth(text)
    return json.loads(text, parse_constant=_reject_constant)


def _parse_json_lines(lines: Iterable[tuple[int, bytes]]) -> Iterator[ParsedRecord]:
    count = 0
    for number, line in lines:
        if not line.strip():
            continue
        count += 1
        yield parse_json_line(count, number, line)


def parse_json_line(record_number: int, line_number: int, line: bytes) -> ParsedRecord:
    """One non-blank line of JSON Lines as a record, or as an invalid one saying why."""
    if content_length(line) > MAX_LINE_BYTES:
        return ParsedRecord(record_number, line_number, raw=head_text(line), error=TOO_LONG_RECORD)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return ParsedRecord(record_number, line_number, raw=line.decode("utf-8", "backslashreplace").rstrip("\r\n"),
                            error=_decode_error(line, error))
    try:
        return ParsedRecord(record_number, line_number, value=parse_json_value(text))
    except TooDeepError as error:
        return ParsedRecord(record_number, line_number, raw=text.rstrip("\r\n"), error=str(error))
    except ValueError as error:
        return ParsedRecord(record_number, line_number, raw=text.rstrip("\r\n"), error=f"malformed JSON: {error}")


def array_records(stream: BinaryIO) -> Iterator[tuple[ParsedRecord, int]]:
    """The records of the JSON array ``stream`` holds, numbered from 1, with the characters each spans."""
    for number, record in enumerate(json_array_records(stream), start=1):
        yield ParsedRecord(number, record.line, value=record.value, raw=record.raw, error=record.error), record.chars


def _parse_json_document(stream: BinaryIO) -> Iterator[ParsedRecord]:
    """A JSON array of records (read as a stream), or one object; a ``.json`` file of JSON Lines also works."""
    stream, first = starting_char(stream)
    if first == b"[":
        yield from (record for record, _ in array_records(stream))
        return
    data = _whole(stream)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_no = data.count(b"\n", 0, error.start) + 1
        raise UnreadableSourceError(f"line {line_no}: not valid UTF-8 (byte 0x{data[error.start]:02x})") from error
    start = len(text) - len(text.lstrip())
    try:
        value = parse_json_value(text)
    except ValueError:
        yield from _parse_json_lines(numbered_lines(io.BytesIO(data)))  # JSON Lines saved as .json
        return
    yield ParsedRecord(1, text.count("\n", 0, start) + 1, value=value)


def starting_char(stream: BinaryIO) -> tuple[BinaryIO, bytes]:
    """The first byte of ``stream`` that is not white space or a byte-order mark, and a stream that still holds it all."""
    seen = b""
    while block := stream.read(1 << 16):
        seen += block
        content = seen.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
        if content:
            return replayed(seen, stream), content[:1]
    return io.BytesIO(seen), b""


def replayed(head: bytes, stream: BinaryIO) -> BinaryIO:
    """A stream of ``head`` (bytes already read from ``stream``) followed by the rest of ``stream``."""
    return cast(BinaryIO, _Replayed(head, stream))


class _Replayed(io.RawIOBase):
    """``head`` followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:  # all of it: the head and the whole rest
            head, self._head = self._head, b""
            return head + self._stream.read()
        if self._head:
            taken = self._head[:size]
            self._head = self._head[len(taken):]
            return taken
        return self._stream.read(size)


def csv_rows(lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, list[str]]]:
    """The rows of CSV lines with the line each starts on; blank rows are skipped.

    Raises
    ------
    UnreadableSourceError
        At a quote never closed, or a line too long to read.
    """
    # Undecodable bytes survive as surrogates so one bad row does not stop the file.
    reader = csv.reader((line.decode("utf-8", "surrogateescape") for line in _whole_csv_lines(lines)), strict=True)
    consumed = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # An unterminated quote swallows the rest of the file: nothing can resync.
            raise UnreadableSourceError(f"line {consumed + 1}: malformed CSV: {error}") from error
        start, consumed = consumed + 1, reader.line_num
        if row and (len(row) > 1 or row[0].strip()):
            yield start, row


def _parse_csv(lines: Iterable[tuple[int, bytes]], field_types: dict[str, list[str]],
               header: list[str] | None = None) -> Iterator[ParsedRecord]:
    count = 0
    converters: list[Callable[[str], Any]] | None = None
    for start, row in csv_rows(lines):
        if header is None:
            header = check_csv_header(row, start)
            continue
        count += 1
        raw = ",".join(row)
        bad_byte = _SURROGATES.search(raw)
        if bad_byte:
            yield ParsedRecord(
                count, start,
                raw=raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"),
                error=f"not valid UTF-8: byte 0x{ord(bad_byte.group()) - 0xDC00:02x}",
            )
            continue
        if len(row) != len(header):
            yield ParsedRecord(count, start, raw=raw, error=f"row has {len(row)} fields, the header has {len(header)}")
            continue
        if converters is None:
            converters = [csv_converter(field_types.get(name, ["string"])) for name in header]
        yield ParsedRecord(count, start, value={
            name: convert(value) for name, convert, value in zip(header, converters, row) if value != ""
        })


def _whole_csv_lines(lines: Iterable[tuple[int, bytes]]) -> Iterator[bytes]:
    """The lines, as long as each was read whole.

    Raises
    ------
    UnreadableSourceError
        At a line longer than ``MAX_LINE_BYTES``: CSV cannot tell where the record
        ends (a quote in the part not read may open or close a field).
    """
    for number, line in lines:
        if content_length(line) > MAX_LINE_BYTES:
            raise UnreadableSourceError(f"line {number}: {TOO_LONG}; a CSV file cannot be read past it")
        yield line


def check_csv_header(row: list[str], line: int) -> list[str]:
    """The column names of a CSV header row."""
    header = [name.strip() for name in row]
    if _SURROGATES.search("".join(header)):
        raise UnreadableSourceError(f"line {line}: CSV header is not valid UTF-8")
    if any(not name for name in header):
        raise UnreadableSourceError(f"line {line}: CSV header has an empty column name")
    duplicates = sorted({n for n in header if header.count(n) > 1})
    if duplicates:
        raise UnreadableSourceError(f"line {line}: CSV header repeats column(s) {', '.join(duplicates)}")
    return header


def csv_converter(types: list[str]) -> Callable[[str], Any]:
    """:func:`convert_csv_value` for a property admitting ``types``, decided once per column."""
    if set(types) >= set(JSON_TYPES) or not set(types) & _CONVERTED_TYPES:
        return str  # text stays text (a str of a str is itself)
    return functools.partial(_converted, types=types)


def convert_csv_value(value: str, types: list[str]) -> Any:
    """Convert CSV text to the first JSON Schema type it can be read as.

    Text that fits none stays a string, so validation reports the type mismatch
    with the value the file holds; so does the text of a property that admits
    every type (its schema asks for none).  Empty fields are dropped before this (absent).
    """
    return value if set(types) >= set(JSON_TYPES) else _converted(value, types)


def _converted(value: str, types: list[str]) -> Any:
    """:func:`convert_csv_value` for ``types`` known not to admit every type (per value: no set built)."""
    for json_type in types:
        if json_type in ("number", "integer") and _JSON_NUMBER.fullmatch(value.strip()):
            number = value.strip()  # as json.loads reads a number: an int unless it has a fraction or an exponent
            return int(number) if _JSON_INTEGER.fullmatch(number) else float(number)
        if json_type == "boolean" and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if json_type in ("array", "object") and value.lstrip()[:1] in ("[", "{"):
            try:
                return parse_json_value(value)
            except ValueError:
                continue
    return value
