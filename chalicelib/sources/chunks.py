"""Reading one chunk of a source file into staged batches.

A chunk is a byte range of the source (JSON Lines anywhere, CSV at record
boundaries ingest found) or a part ingest wrote (see
:class:`chalicelib.payloads.ChunkRef`).  Its records and lines are numbered
from 1 within the chunk; how many lines it went through is counted, so the
verdict can number them within the file.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

import pyarrow as pa

from chalicelib.datasets import Dataset
from chalicelib.payloads import ChunkRef
from chalicelib.sources.columnar import read_json_lines
from chalicelib.sources.formats import LineCount, parse_part
from chalicelib.sources.ranges import READ_BYTES, LineRange
from chalicelib.sources.staged import ingested_schema, parse_types, parsed_batches
from chalicelib.storage.objects import ObjectStore, zstd_decompressed
from chalicelib.storage.staging import StagingStore, iter_batches


@dataclass
class ChunkReading:
    """The chunk's staged batches, and (once they are read) how many lines they came from."""

    batches: Iterator[pa.RecordBatch]
    lines: LineCount


@contextlib.contextmanager
def read_chunk(chunk: ChunkRef, dataset: Dataset, objects: ObjectStore, staging: StagingStore) -> Iterator[ChunkReading]:
    """Open ``chunk`` and yield its reading; streams and local files are closed on exit."""
    if chunk["format"] == "staged":
        with staging.reader(chunk["key"]) as reader:
            yield ChunkReading(iter_batches(reader), LineCount(chunk["lines"] or 0))
        return
    types = parse_types(dataset)
    schema = ingested_schema(types)
    lines = LineCount()
    with contextlib.closing(_open_text(chunk, objects)) as stream:
        at_file_start = chunk["index"] == 0
        if chunk["format"] == "jsonl" and types:
            batches = read_json_lines(stream, schema, at_file_start=at_file_start, lines=lines)
        else:
            records = parse_part(stream, chunk["format"], dataset.field_types,
                                 at_file_start=at_file_start, header=chunk["header"], lines=lines)
            batches = parsed_batches(records, schema)
        yield ChunkReading(batches, lines)


def _open_text(chunk: ChunkRef, objects: ObjectStore) -> BinaryIO:
    """The chunk's bytes, uncompressed, buffered."""
    bucket, key, version, start, end = chunk["bucket"], chunk["key"], chunk["version"], chunk["start"], chunk["end"]
    if chunk["compression"] == "zstd":
        return zstd_decompressed(objects.open_range(bucket, key, version))
    if chunk["format"] == "csv":  # ingest cut the range at record boundaries
        return io.BufferedReader(objects.open_range(bucket, key, version, start, None if end is None else end - 1))
    # JSON Lines cut anywhere: the range owns the lines that begin in it
    skip = start > 0
    first = start - 1 if skip else 0
    stream = objects.open_range(bucket, key, version, first)
    # read in LineRange's own blocks: smaller reads re-slice its pending block each time
    return io.BufferedReader(LineRange(cast(BinaryIO, stream), skip_first=skip, last=None if end is None else end - 1 - first),
                             buffer_size=READ_BYTES)
