"""Planning a run's chunks: where its source is cut, and the parts written for what cannot be cut by range.

Uncompressed JSON Lines is cut by byte range without being read; uncompressed
CSV is read once to find record boundaries; gzip (any format) and JSON arrays
are streamed once into parts of about ``chunk_bytes`` (gzip text as Zstandard
parts, array records as staged batches).  A ``.json`` file that is not an array
is one document or JSON Lines: no larger than a record, it is parsed here into
one staged part; larger, it is read as JSON Lines.  A small file is one chunk.
"""
from __future__ import annotations

import contextlib
import io
import itertools
import os
import tempfile
from dataclasses import replace
from typing import BinaryIO

import pyarrow as pa

from chalicelib.config import MAX_CHUNKS
from chalicelib.datasets import Dataset
from chalicelib.identity import plan_tag
from chalicelib.keys import part_key
from chalicelib.payloads import ChunkFormat, ChunkRef, Compression, RunRef
from chalicelib.services import Services
from chalicelib.sources.errors import EmptySourceError, TooManyChunksError
from chalicelib.sources.formats import (
    GZIP_MAGIC,
    ParsedRecord,
    array_records,
    decompressed,
    detect_format,
    parse_part,
    replayed,
    starting_char,
)
from chalicelib.sources.limits import MAX_LINE_BYTES
from chalicelib.sources.splitting import json_lines_ranges, split_csv, split_json_lines
from chalicelib.sources.staged import BATCH_ROWS, ingested_schema, parse_types, parsed_batch
from chalicelib.storage.objects import ZSTD, ZSTD_CONTENT_TYPE

HEAD_BYTES = 64


def chunk_ref(index: int, bucket: str, key: str, version: str | None, fmt: ChunkFormat, *, start: int = 0,
              end: int | None = None, compression: Compression = "none", header: list[str] | None = None,
              records: int | None = None, lines: int | None = None) -> ChunkRef:
    return ChunkRef(index=index, bucket=bucket, key=key, version=version, start=start, end=end, format=fmt,
                    compression=compression, header=header if index else None, records=records, lines=lines,
                    plan="")  # stamped by plan_chunks once every cut is known


def plan_chunks(run: RunRef, dataset: Dataset, services: Services, chunk_bytes: int) -> list[ChunkRef]:
    """The chunks of the run's source, in file order, stamped with the plan's tag.

    Raises
    ------
    EmptySourceError
        When the file is empty.
    UnreadableSourceError
        When planning read a part of the file no reader could read (see :mod:`chalicelib.sources.splitting`).
    """
    chunks = _cut(run, dataset, services, chunk_bytes)
    if not chunks:  # parts of a file with nothing but blanks, an empty array, or an empty gzip stream
        raise EmptySourceError()
    tag = plan_tag(chunks, chunk_bytes)
    return [ChunkRef(**{**chunk, "plan": tag}) for chunk in chunks]


def _cut(run: RunRef, dataset: Dataset, services: Services, chunk_bytes: int) -> list[ChunkRef]:
    source = run["source"]
    bucket, key, version, size = source["bucket"], source["key"], source["version"], source["size"] or 0
    if size == 0:
        raise EmptySourceError()
    with contextlib.closing(services.objects.open_range(bucket, key, version, 0, HEAD_BYTES - 1)) as head_stream:
        head = head_stream.read()
    fmt, gzipped = detect_format(key, head), head[:2] == GZIP_MAGIC
    if fmt == "jsonl" and not gzipped:
        return _ranges(bucket, key, version, size, chunk_bytes)
    with contextlib.closing(services.objects.open(source)) as raw:
        stream = decompressed(io.BufferedReader(raw))
        if fmt == "csv" and not gzipped:
            header, cuts = split_csv(stream, chunk_bytes)
            check_chunk_count(len(cuts) + 1, chunk_bytes)
            bounds = [0, *cuts, size]
            return [chunk_ref(i, bucket, key, version, "csv", start=start, end=end, header=header)
                    for i, (start, end) in enumerate(itertools.pairwise(bounds))]
        if fmt == "json":
            stream, first = starting_char(stream)
            if first == b"[":
                return _array_parts(stream, run, dataset, services, chunk_bytes)
            # Not an array: one document, or JSON Lines saved as .json.  A document is one record, and a
            # record is at most MAX_LINE_BYTES: what is no larger is read whole here; anything larger is lines.
            if not gzipped and size > MAX_LINE_BYTES:
                return _ranges(bucket, key, version, size, chunk_bytes)
            head = _read_up_to(stream, MAX_LINE_BYTES + 1)
            if len(head) <= MAX_LINE_BYTES:
                return _document_part(head, run, dataset, services, chunk_bytes)
            return _text_parts(replayed(head, stream), "jsonl", run, services, chunk_bytes)
        return _text_parts(stream, fmt, run, services, chunk_bytes)


def check_chunk_count(count: int, chunk_bytes: int) -> None:
    """Refuse a plan of more than ``MAX_CHUNKS`` chunks.

    Raises
    ------
    TooManyChunksError
        Naming the chunk size that makes them.
    """
    if count > MAX_CHUNKS:
        raise TooManyChunksError(f"the file makes more than {MAX_CHUNKS:,} chunks of {chunk_bytes:,} bytes: "
                                 f"run it with a larger chunk_mb")


def _ranges(bucket: str, key: str, version: str | None, size: int, chunk_bytes: int) -> list[ChunkRef]:
    """JSON Lines cut by byte range, without reading it."""
    ranges = json_lines_ranges(size, chunk_bytes)
    check_chunk_count(len(ranges), chunk_bytes)
    return [chunk_ref(i, bucket, key, version, "jsonl", start=start, end=end) for i, (start, end) in enumerate(ranges)]


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream`` (fewer only at its end)."""
    blocks, count = [], 0
    while count < size and (block := stream.read(size - count)):
        blocks.append(block)
        count += len(block)
    return b"".join(blocks)


def _document_part(data: bytes, run: RunRef, dataset: Dataset, services: Services, chunk_bytes: int) -> list[ChunkRef]:
    """Parse a small ``.json`` file (a document, or a few lines) now, so a file no reader can read is rejected here."""
    parts = _StagedParts(run, dataset, services, chunk_bytes)
    for record in parse_part(io.BytesIO(data), "json", dataset.field_types):
        parts.add(record, 0)  # one part: at most a record's worth of text
    parts.finish()
    return parts.chunks


class _ZstdParts:
    """Text parts of a run, each written Zstandard-compressed to a local file and uploaded once complete."""

    def __init__(self, run: RunRef, fmt: ChunkFormat, services: Services, workdir: str, chunk_bytes: int) -> None:
        self._run, self._fmt, self._services, self._workdir, self._chunk_bytes = run, fmt, services, workdir, chunk_bytes
        self._sink: pa.NativeFile | None = None
        self._path = ""
        self.keys: list[str] = []

    def write(self, data: bytes) -> None:
        if self._sink is None:
            self._path = os.path.join(self._workdir, f"part-{len(self.keys)}")
            self._sink = pa.CompressedOutputStream(pa.OSFile(self._path, "wb"), ZSTD)
        self._sink.write(data)

    def cut(self) -> None:
        if self._sink is None:
            return
        self._sink.close()
        self._sink = None
        key = part_key(self._run, len(self.keys), f".{self._fmt}.zst")
        self._services.objects.upload(self._path, self._services.staging.bucket, key, ZSTD_CONTENT_TYPE)
        os.unlink(self._path)
        self.keys.append(key)
        check_chunk_count(len(self.keys), self._chunk_bytes)


def _text_parts(stream: BinaryIO, fmt: ChunkFormat, run: RunRef, services: Services, chunk_bytes: int) -> list[ChunkRef]:
    """Copy a gzip file's text into Zstandard parts cut where its chunks end."""
    header = None
    with tempfile.TemporaryDirectory() as workdir:
        parts = _ZstdParts(run, fmt, services, workdir, chunk_bytes)
        if fmt == "csv":
            header, _ = split_csv(stream, chunk_bytes, parts)
        else:
            split_json_lines(stream, chunk_bytes, parts)
        parts.cut()
    bucket = services.staging.bucket
    return [chunk_ref(i, bucket, key, None, fmt, compression="zstd", header=header) for i, key in enumerate(parts.keys)]


class _StagedParts:
    """A JSON array's records staged into parts of about ``chunk_bytes`` of the array's text each.

    Records and lines are numbered within each part: line 1 of a part other than
    the first is the line its first record starts on, so a part's ``lines`` (how
    far the next part's numbering starts) is known when the next record arrives.
    """

    def __init__(self, run: RunRef, dataset: Dataset, services: Services, chunk_bytes: int) -> None:
        self._run, self._services, self._chunk_bytes = run, services, chunk_bytes
        self._schema = ingested_schema(parse_types(dataset))
        self._files = contextlib.ExitStack()
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._key = ""
        self._batch: list[ParsedRecord] = []
        self._size = self._count = self._records_before = self._line_base = self._last_line = 0
        self.chunks: list[ChunkRef] = []

    def add(self, record: ParsedRecord, chars: int) -> None:
        if self._writer is not None and self._size >= self._chunk_bytes:
            self.finish(next_line=record.line)
        if self._writer is None:
            self._key = part_key(self._run, len(self.chunks), ".arrow")
            self._writer = self._files.enter_context(self._services.staging.writer(self._key, self._schema))
        self._batch.append(replace(record, record_number=record.record_number - self._records_before,
                                   line=record.line - self._line_base))
        self._size += chars
        self._count += 1
        self._last_line = record.line
        if len(self._batch) == BATCH_ROWS:
            self._flush()

    def finish(self, next_line: int | None = None) -> None:
        """End the current part (uploading it); ``next_line``: where the next part's first record starts."""
        if self._writer is None:
            return
        self._flush()
        self._files.close()  # uploads the part
        base = self._line_base
        lines = (next_line - 1 if next_line is not None else self._last_line) - base
        self.chunks.append(chunk_ref(len(self.chunks), self._services.staging.bucket, self._key, None, "staged",
                                     records=self._count, lines=lines))
        check_chunk_count(len(self.chunks), self._chunk_bytes)
        self._writer, self._records_before, self._line_base = None, self._records_before + self._count, base + lines
        self._size = self._count = 0

    def _flush(self) -> None:
        if self._batch and self._writer is not None:
            self._writer.write_batch(parsed_batch(self._batch, self._schema))
        self._batch = []


def _array_parts(stream: BinaryIO, run: RunRef, dataset: Dataset, services: Services, chunk_bytes: int) -> list[ChunkRef]:
    """Stream a JSON array's records into staged parts."""
    parts = _StagedParts(run, dataset, services, chunk_bytes)
    for record, chars in array_records(stream):
        parts.add(record, chars)
    parts.finish()
    return parts.chunks
