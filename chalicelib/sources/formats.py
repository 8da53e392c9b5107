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
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, cast

from chalicelib.datasets.columns import JSON_TYPES
from chalicelib.sources.errors import UnreadableSourceError
from chalicelib.sources.limits import (
    KEPT_BYTES,
    MAX_LINE_BYTES,
    TOO_DEEP,
    TOO_LONG,
    TooDeepError,
    bounded_lines,
    check_depth,
    content_length,
    value_end,
)

Format = Literal["csv", "jsonl", "json"]
GZIP_MAGIC = b"\x1f\x8b"
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, OSError)  # a corrupt stream, wherever it is read
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SURROGATES = re.compile(r"[\udc80-\udcff]")
_TOO_LONG_RECORD = f"{TOO_LONG} (raw holds its first {KEPT_BYTES} bytes)"


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
    """Wrap ``stream`` in a gzip reader when it starts with the gzip magic bytes."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, stream))
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def parse(stream: BinaryIO, fmt: Format, field_types: dict[str, list[str]]) -> Iterator[ParsedRecord]:
    """Yield the records of a (possibly gzip-compressed) stream.

    Parameters
    ----------
    field_types
        JSON Schema types per property; CSV values are converted to them.

    Raises
    ------
    UnreadableSourceError
        When the rest of the file cannot be read.
    """
    source = decompressed(stream)
    if fmt == "json":
        yield from _parse_json_document(_whole(source))
        return
    lines = _numbered_lines(source)
    if fmt == "csv":
        yield from _parse_csv(lines, field_types)
    else:
        yield from _parse_json_lines(lines)


def _numbered_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Lines numbered from 1, cut as :func:`chalicelib.sources.limits.bounded_lines` cuts them."""
    try:
        for number, line in enumerate(bounded_lines(stream), start=1):
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            yield number, line
    except GZIP_ERRORS as error:
        raise UnreadableSourceError(f"corrupt gzip stream: {error}") from error


def _whole(stream: BinaryIO) -> bytes:
    try:
        return stream.read().removeprefix(codecs.BOM_UTF8)
    except GZIP_ERRORS as error:
        raise UnreadableSourceError(f"corrupt gzip stream: {error}") from error


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
        return ParsedRecord(record_number, line_number, raw=_head(line), error=_TOO_LONG_RECORD)
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


def _head(data: bytes) -> str:
    """The start of a record too long to keep, as text (a character cut in two shows as escapes)."""
    return data[:KEPT_BYTES].decode("utf-8", "backslashreplace")


def _parse_json_document(data: bytes) -> Iterator[ParsedRecord]:
    """A JSON array of records, or one object; a ``.json`` file of JSON Lines also works."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_no = data.count(b"\n", 0, error.start) + 1
        raise UnreadableSourceError(f"line {line_no}: not valid UTF-8 (byte 0x{data[error.start]:02x})") from error
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] != "[":
        try:
            value = parse_json_value(text)
        except ValueError:
            yield from _parse_json_lines(_numbered_lines(io.BytesIO(data)))  # JSON Lines saved as .json
            return
        yield ParsedRecord(1, text.count("\n", 0, start) + 1, value=value)
        return
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    position, count = start + 1, 0
    line, counted_to = 1, 0
    while True:
        position = _skip_space(text, position)
        if text.startswith("]", position):
            break
        if count:
            if not text.startswith(",", position):
                raise _array_error(text, position, "expected ',' or ']' between records")
            position = _skip_space(text, position + 1)
        line += text.count("\n", counted_to, position)
        counted_to = position
        try:
            value, end = decoder.raw_decode(text, position)
            problem = _array_record_problem(text, position, end)
        except RecursionError:  # json's decoder recurses per level, up to Python's recursion limit
            stop = value_end(text, position)
            if stop is None:
                raise _array_error(text, position, "unexpected end of file inside the JSON array") from None
            value, end = None, stop
            problem = _array_record_problem(text, position, end) or TOO_DEEP
        except ValueError as error:
            raise _array_error(text, getattr(error, "pos", position), f"malformed JSON: {getattr(error, 'msg', error)}") from error
        count += 1
        if problem is None:
            yield ParsedRecord(count, line, value=value)
        else:
            raw = text[position:end]
            yield ParsedRecord(count, line, raw=_head(raw.encode()) if problem == _TOO_LONG_RECORD else raw, error=problem)
        position = end
    if text[position + 1 :].strip():
        raise _array_error(text, position + 1, "unexpected data after the closing ']'")


def _array_record_problem(text: str, start: int, end: int) -> str | None:
    """Why the record at ``text[start:end]`` costs more than a record may, or ``None``."""
    # A character takes one to four bytes in UTF-8: encode only when the count of characters cannot tell.
    if end - start > MAX_LINE_BYTES or (4 * (end - start) > MAX_LINE_BYTES and len(text[start:end].encode()) > MAX_LINE_BYTES):
        return _TOO_LONG_RECORD
    try:
        check_depth(text, start, end)
    except TooDeepError as error:
        return str(error)
    return None


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    if position >= len(text):
        raise _array_error(text, position, "unexpected end of file inside the JSON array")
    return position


def _array_error(text: str, position: int, message: str) -> UnreadableSourceError:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return UnreadableSourceError(f"line {line} column {column}: {message}")


def _parse_csv(lines: Iterable[tuple[int, bytes]], field_types: dict[str, list[str]]) -> Iterator[ParsedRecord]:
    # Undecodable bytes survive as surrogates so one bad row does not stop the file.
    reader = csv.reader((line.decode("utf-8", "surrogateescape") for line in _whole_csv_lines(lines)), strict=True)
    consumed = 0
    header: list[str] | None = None
    count = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            # An unterminated quote swallows the rest of the file: nothing can resync.
            raise UnreadableSourceError(f"line {consumed + 1}: malformed CSV: {error}") from error
        start, consumed = consumed + 1, reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = _check_header(row, start)
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
        yield ParsedRecord(count, start, value={
            name: convert_csv_value(value, field_types.get(name, ["string"]))
            for name, value in zip(header, row) if value != ""
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


def _check_header(row: list[str], line: int) -> list[str]:
    header = [name.strip() for name in row]
    if _SURROGATES.search("".join(header)):
        raise UnreadableSourceError(f"line {line}: CSV header is not valid UTF-8")
    if any(not name for name in header):
        raise UnreadableSourceError(f"line {line}: CSV header has an empty column name")
    duplicates = sorted({n for n in header if header.count(n) > 1})
    if duplicates:
        raise UnreadableSourceError(f"line {line}: CSV header repeats column(s) {', '.join(duplicates)}")
    return header


def convert_csv_value(value: str, types: list[str]) -> Any:
    """Convert CSV text to the first JSON Schema type it can be read as.

    Text that fits none stays a string, so validation reports the type mismatch
    with the value the file holds; so does the text of a property that admits
    every type (its schema asks for none).  Empty fields are dropped before this (absent).
    """
    if set(types) >= set(JSON_TYPES):
        return value
    for json_type in types:
        if json_type in ("number", "integer") and _JSON_NUMBER.fullmatch(value.strip()):
            return json.loads(value.strip())
        if json_type == "boolean" and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if json_type in ("array", "object") and value.lstrip()[:1] in ("[", "{"):
            try:
                return parse_json_value(value)
            except ValueError:
                continue
    return value
