"""Hive-partitioned Parquet files written from a stream of batches, in bounded memory.

``pyarrow.dataset.write_dataset`` queues up to 64 million rows ahead of its file
writers, and that limit is not exposed to Python: a 1 GB file made its output
stage hold 700 MB.  Here rows wait in one buffer per partition, a partition's
rows go out as a row group once it has ``row_group_rows`` of them, and when
all buffers together pass ``max_buffered_rows`` the fullest goes out early, so
memory is bounded whatever the number of partitions or their order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chalicelib.datasets.columns import PARTITION_KEYS

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # what Hive (and pyarrow) name the partition of a null value


def partition_directory(hour: datetime | None) -> str:
    """``year=YYYY/month=MM/day=DD/hour=HH`` of a UTC time, zero-padded as strftime's ``%Y %m %d %H``."""
    values = (NULL_PARTITION,) * len(PARTITION_KEYS) if hour is None else (
        f"{hour.year:04d}", f"{hour.month:02d}", f"{hour.day:02d}", f"{hour.hour:02d}")
    return "/".join(f"{name}={value}" for name, value in zip(PARTITION_KEYS, values, strict=True))


@dataclass
class _Partition:
    directory: str
    pending: list[pa.Table] = field(default_factory=list)
    pending_rows: int = 0
    files: list[Path] = field(default_factory=list)
    writer: pq.ParquetWriter | None = None
    file_rows: int = 0


class HourlyParquetWriter:
    """Writes batches into ``<root>/year=/month=/day=/hour=/<basename>-<n>.parquet`` by a timestamp column.

    Files are numbered from 0 within each partition in the order rows arrive, so
    the same input gets the same names.  The partition values live in the path only.

    Parameters
    ----------
    root
        Local directory to write under.
    schema
        Schema of the batches (and of the files).
    timestamp_field
        The UTC timestamp column that picks each row's partition.
    basename
        File name stem, numbered per partition.
    """

    def __init__(self, root: Path, schema: pa.Schema, timestamp_field: str, basename: str, *,
                 row_group_rows: int = 128 * 1024, rows_per_file: int = 1_000_000, max_buffered_rows: int = 256 * 1024) -> None:
        self._root, self._schema, self._timestamp_field, self._basename = root, schema, timestamp_field, basename
        self._row_group_rows, self._rows_per_file, self._max_buffered_rows = row_group_rows, rows_per_file, max_buffered_rows
        self._partitions: dict[datetime | None, _Partition] = {}
        self.buffered_rows = 0  # rows waiting in partition buffers
        self.rows = 0  # rows written so far

    def write(self, batch: pa.RecordBatch) -> None:
        """Route ``batch``'s rows to their partitions (in their order within each partition)."""
        hours = pc.floor_temporal(batch.column(self._timestamp_field), unit="hour")
        order = pc.sort_indices(hours)  # stable: rows keep their order within an hour
        hours = hours.take(order)
        table = pa.Table.from_batches([batch])
        start = 0
        for run in pc.value_counts(hours):  # sorted, so each hour's rows are one run, in order
            count = run["counts"].as_py()
            # a take per partition: each buffer holds its own rows, not a view of the whole batch
            self._add(hours[start].as_py(), table.take(order.slice(start, count)))
            start += count
        self.rows += batch.num_rows
        while self.buffered_rows > self._max_buffered_rows:
            fullest = max(self._partitions.values(), key=lambda p: p.pending_rows)
            self._flush(fullest, fullest.pending_rows)

    def close(self) -> list[tuple[Path, str]]:
        """Write what is buffered, close the files, and return ``(path, path relative to root)`` of each file."""
        written = []
        for partition in sorted(self._partitions.values(), key=lambda p: p.directory):
            self._flush(partition, partition.pending_rows)
            if partition.writer is not None:
                partition.writer.close()
            written += [(path, path.relative_to(self._root).as_posix()) for path in partition.files]
        return written

    def _add(self, hour: datetime | None, rows: pa.Table) -> None:
        if hour not in self._partitions:
            self._partitions[hour] = _Partition(partition_directory(hour))
        partition = self._partitions[hour]
        partition.pending.append(rows)
        partition.pending_rows += rows.num_rows
        self.buffered_rows += rows.num_rows
        while partition.pending_rows >= self._row_group_rows:
            self._flush(partition, self._row_group_rows)

    def _flush(self, partition: _Partition, count: int) -> None:
        """Write the first ``count`` buffered rows of ``partition`` as one row group (or two, across a file's end)."""
        if not count:
            return
        rows = pa.concat_tables(partition.pending)
        head, rest = rows.slice(0, count), rows.slice(count)
        if rest.num_rows:  # a copy: a slice would keep the whole chunk it was cut from alive until close
            rest = rest.take(pa.array(range(rest.num_rows)))
        partition.pending, partition.pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        self.buffered_rows -= count
        while head.num_rows:
            if partition.writer is None or partition.file_rows == self._rows_per_file:
                self._open(partition)
            part = head.slice(0, self._rows_per_file - partition.file_rows)
            partition.writer.write_table(part, row_group_size=part.num_rows)  # type: ignore[union-attr]
            partition.file_rows += part.num_rows
            head = head.slice(part.num_rows)

    def _open(self, partition: _Partition) -> None:
        if partition.writer is not None:
            partition.writer.close()
        path = self._root / partition.directory / f"{self._basename}-{len(partition.files)}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        partition.writer = pq.ParquetWriter(path, self._schema, compression="snappy")
        partition.files.append(path)
        partition.file_rows = 0
