"""Reading JSON Lines into staged batches with Arrow's JSON parser, block by block.

The file is read in blocks of whole lines, so memory holds one block whatever
the file's size.  Each block's lines go through ``pyarrow.json`` with every
property typed; the result must be what the per-line reader
(:func:`chalicelib.sources.formats.parse_json_line`) makes of the same lines,
so every line the columnar path cannot vouch for is parsed by that reader
instead:

- lines holding ``null`` (Arrow cannot tell a null member from an absent one),
  16+ digits before any decimal point (an integer beyond I-JSON, or one a
  double rounds) or a byte-order mark, lines longer than a record may be, and
  lines with more brackets than a record may nest (Arrow's inference of an
  unknown member overflows the stack on deep nesting);
- lines in a part of the block Arrow refuses (malformed JSON, a wrong type,
  invalid UTF-8, a duplicate member): the part is halved until the good lines
  are parsed and the bad ones isolated;
- rows with members the schema does not define, non-finite numbers, or values
  whose RFC 8785 text :mod:`chalicelib.canonical` cannot build.

A differential test holds the staged output equal to the per-line reader's.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from chalicelib.canonical import canonical_text
from chalicelib.sources.formats import LineCount, parse_json_line
from chalicelib.sources.limits import HEAD_BYTES, MAX_DEPTH, MAX_LINE_BYTES
from chalicelib.sources.staged import parsed_batch

BLOCK_BYTES = 8 << 20
SMALLEST_PART = 64  # lines; a refused part this small is parsed line by line
_BLANK = r"^[\t\n\x0b\x0c\r ]*$"  # what bytes.strip() removes
# null; 16+ digits not after a decimal point; more opening brackets than a record may nest
_ROUTED = r"null|(?:^|[^0-9.])[0-9]{16}|(?:[\[{][^\[{]*)" + f"{{{MAX_DEPTH + 1}}}"
_BOM = b"\xef\xbb\xbf"  # Arrow skips one at the start of a line; json.loads refuses it


def read_json_lines(stream: BinaryIO, schema: pa.Schema, *, at_file_start: bool = True,
                    lines: LineCount | None = None) -> Iterator[pa.RecordBatch]:
    """Staged batches (``schema`` from :func:`chalicelib.sources.staged.ingested_schema`), one per block.

    Parameters
    ----------
    stream
        Uncompressed JSON Lines: a file or a part of one (records are numbered from 1 within it).
    at_file_start
        The stream starts the file: a byte-order mark there is not content.
    lines
        Counts the lines read.

    Raises
    ------
    UnreadableSourceError
        When the gzip stream is corrupt.
    """
    first_line, records_before = 1, 0
    for block in _blocks(stream, at_file_start):
        batch = _block_batch(block, first_line, records_before, schema)
        first_line += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        records_before += batch.num_rows
        if lines is not None:
            lines.lines = first_line - 1
        if batch.num_rows:
            yield batch


def _blocks(stream: BinaryIO, at_file_start: bool = True) -> Iterator[bytes]:
    """Blocks of whole lines, about ``BLOCK_BYTES`` each; a byte-order mark at the start of the file is dropped.

    A line that goes on past ``HEAD_BYTES`` is cut there, as the per-line reader cuts it.
    """
    carry = b""
    first, cut = at_file_start, False
    while chunk := stream.read(BLOCK_BYTES):
        if first:
            chunk, first = chunk.removeprefix(_BOM), False
        if cut:  # drop the rest of the line that was cut
            newline = chunk.find(b"\n")
            if newline < 0:
                continue
            chunk, cut = chunk[newline:], False
        data = carry + chunk
        end = data.rfind(b"\n") + 1
        if end:
            yield data[:end]
        carry = data[end:]
        if len(carry) > HEAD_BYTES:
            carry, cut = carry[:HEAD_BYTES], True
    if carry:
        yield carry


def _block_batch(block: bytes, first_line: int, records_before: int, schema: pa.Schema) -> pa.RecordBatch:
    lines = pc.list_flatten(pc.split_pattern(pa.array([block], pa.large_binary()), b"\n"))
    if block.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    records = pc.invert(pc.match_substring_regex(lines, _BLANK))
    lines = lines.filter(records)
    line_numbers = pa.array(range(first_line, first_line + len(records)), pa.int64()).filter(records)
    record_numbers = pa.array(range(records_before + 1, records_before + 1 + len(lines)), pa.int64())

    routed = pc.or_(pc.match_substring_regex(lines, _ROUTED),
                    pc.or_(pc.starts_with(lines, _BOM), pc.greater(pc.binary_length(lines), MAX_LINE_BYTES)))
    candidates = pc.indices_nonzero(pc.invert(routed))
    values_type = schema.field("values").type
    positions, values = _parse_columnar(lines.take(candidates), candidates, values_type)
    # A string holds a character JSON escapes only where its line holds a backslash.
    escapable = pc.match_substring(lines, "\\").take(positions)
    text, exact = canonical_text(dict(zip(values_type.names, values.flatten())), escapable)
    positions, values, text = positions.filter(exact), values.filter(exact), text.filter(exact)

    columnar = pa.RecordBatch.from_arrays(
        [record_numbers.take(positions), line_numbers.take(positions), text,
         pa.nulls(len(positions), pa.string()), pa.nulls(len(positions), pa.string()), values],
        schema=schema,
    )
    by_line = _rest(len(lines), positions)
    one_by_one = parsed_batch(
        [parse_json_line(number, line, raw) for number, line, raw in zip(
            record_numbers.take(by_line).to_pylist(), line_numbers.take(by_line).to_pylist(),
            lines.take(by_line).to_pylist())],
        schema,
    )
    combined = pa.Table.from_batches([columnar, one_by_one]).combine_chunks()
    return combined.take(pc.sort_indices(combined["record_number"])).to_batches()[0] if combined.num_rows else columnar


def _parse_columnar(lines: pa.Array, positions: pa.Array, values_type: pa.StructType) -> tuple[pa.Array, pa.StructArray]:
    """Positions and typed values of the lines Arrow parses into exactly one row each with known members only."""
    parsed_positions, parsed_values = [], []
    pending = [(0, len(lines))]
    while pending:
        start, stop = pending.pop()
        if start == stop:
            continue
        try:
            table = _read(lines.slice(start, stop - start), values_type)
        except (pa.ArrowInvalid, UnicodeDecodeError):
            if stop - start > SMALLEST_PART:
                middle = (start + stop) // 2
                pending += [(middle, stop), (start, middle)]
            continue
        # Each part on its own: an unknown member may be inferred as a different type in each.
        known = _known_rows(table, values_type)
        parsed_positions.append(positions.slice(start, stop - start).filter(known))
        values = pa.StructArray.from_arrays([table[field.name].combine_chunks() for field in values_type], fields=list(values_type))
        parsed_values.append(values.filter(known))
    if not parsed_values:
        return pa.array([], pa.uint64()), pa.array([], values_type)
    return pa.concat_arrays(parsed_positions), pa.concat_arrays(parsed_values)


def _known_rows(table: pa.Table, values_type: pa.StructType) -> pa.Array:
    """Where a parsed row holds no member the schema does not define, and only finite numbers."""
    known = pa.array([True] * table.num_rows, pa.bool_())
    for name in table.column_names:
        column = table[name].combine_chunks()
        if name not in values_type.names:  # a member the schema does not define
            known = pc.and_(known, pc.is_null(column))
        elif pa.types.is_floating(column.type):  # NaN and Infinity, which Arrow reads and json.loads refuses
            known = pc.and_(known, pc.fill_null(pc.is_finite(column), True))
    return known


def _read(lines: pa.Array, values_type: pa.StructType) -> pa.Table:
    lines.view(pa.large_string()).validate(full=True)  # invalid UTF-8 is the per-line reader's to report
    data = pc.binary_join(pa.LargeListArray.from_arrays(pa.array([0, len(lines)], pa.int64()), lines), pa.scalar(b"\n", pa.large_binary()))
    buffer = data[0].as_buffer()
    table = pj.read_json(
        pa.BufferReader(buffer),
        # Blocks of about 1 MiB are parsed on all cores; a block must hold the longest line.
        read_options=pj.ReadOptions(block_size=max(1 << 20, 2 * pc.max(pc.binary_length(lines)).as_py() + 2)),
        parse_options=pj.ParseOptions(explicit_schema=pa.schema(list(values_type)), unexpected_field_behavior="infer"),
    )
    if table.num_rows != len(lines):  # e.g. two objects on one line
        raise pa.ArrowInvalid(f"{len(lines)} lines made {table.num_rows} rows")
    return table


def _rest(count: int, taken: pa.Array) -> pa.Array:
    """Positions ``0..count-1`` that are not in ``taken``."""
    return pc.indices_nonzero(pc.invert(pc.is_in(pa.array(range(count), pa.uint64()), value_set=taken)))
