"""The output stage."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from chalicelib.errors import IntegrityError
from chalicelib.identity import source_id_for
from chalicelib.payloads import OutputResult, OutputState, TransformedState
from chalicelib.services import Services
from chalicelib.staging_keys import manifest_key, processed_prefix
from chalicelib.storage.objects import s3_uri
from chalicelib.storage.staging import iter_batches

# Partition values as strftime would print them (%Y %m %d %H), built from the fields (strftime is ten times slower).
PARTITION_FIELDS = {"year": (pc.year, 4), "month": (pc.month, 2), "day": (pc.day, 2), "hour": (pc.hour, 2)}
PARTITIONING = ds.partitioning(pa.schema([(name, pa.string()) for name in PARTITION_FIELDS]), flavor="hive")
MAX_ROWS_PER_FILE = 1_000_000
ROW_GROUP_ROWS = 128 * 1024
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


def output(state: TransformedState, services: Services) -> OutputState:
    """Write the transformed records to ``processed/<dataset>/year=/month=/day=/hour=/``.

    Files are named after the source key (``<source_id>-<n>.parquet``), so a
    rerun of the same source overwrites them; files an earlier run of the same
    source wrote and this one did not are deleted, as the manifest of that
    source records them.
    """
    run = state["run"]
    dataset = services.datasets.get(run["dataset"])  # type: ignore[arg-type]
    bucket = services.settings.processed_bucket
    source_id = source_id_for(run["source"]["bucket"], run["source"]["key"])
    prefix = processed_prefix(dataset.name)
    with tempfile.TemporaryDirectory() as workdir, services.staging.reader(state["transform"]["staged_key"]) as reader:
        written = _write_partitions(reader, dataset.timestamp_field, source_id, workdir)
        files = [(str(path), prefix + path.parent.relative_to(workdir).as_posix() + "/" + name)
                 for path, name in _partition_file_names(Path(workdir), source_id)]
        services.objects.upload_all(files, bucket, PARQUET_CONTENT_TYPE)
        keys = [key for _, key in files]
    if written != state["outcome"]["records_valid"]:
        raise IntegrityError(f"wrote {written} records but {state['outcome']['records_valid']} were valid")
    manifest = manifest_key(dataset.name, source_id)
    previous = services.objects.get_json(bucket, manifest) or {}
    stale = sorted(set(previous.get("files", [])) - set(keys))
    services.objects.put_json(bucket, manifest, {
        "run_id": run["run_id"],
        "dataset": dataset.name,
        "source": run["source"],
        "records_written": written,
        "files": keys,
    })
    if stale:
        services.objects.delete(bucket, stale)
    return OutputState(
        **state,
        output=OutputResult(
            records_written=written,
            files=len(keys),
            partitions=len({key.rsplit("/", 1)[0] for key in keys}),
            manifest=s3_uri(bucket, manifest),
        ),
    )


def _partition_file_names(workdir: Path, source_id: str) -> list[tuple[Path, str]]:
    """Number files within each partition from 0, so the same data gets the same names.

    pyarrow numbers files across the whole write; renumbering per partition keeps
    a partition's names stable when a rerun adds or drops other partitions.
    """
    by_partition: dict[Path, list[Path]] = {}
    for path in workdir.rglob("*.parquet"):
        by_partition.setdefault(path.parent, []).append(path)
    named = []
    for directory in sorted(by_partition):
        files = sorted(by_partition[directory], key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        named.extend((path, f"{source_id}-{rank}.parquet") for rank, path in enumerate(files))
    return named


def partition_values(timestamps: pa.Array, name: str) -> pa.Array:
    """The ``name`` partition (year, month, day or hour) of each UTC timestamp, zero-padded."""
    field, digits = PARTITION_FIELDS[name]
    return pc.utf8_lpad(pc.cast(field(timestamps), pa.string()), digits, "0")


def _write_partitions(reader: pa.ipc.RecordBatchFileReader, timestamp_field: str, source_id: str, workdir: str) -> int:
    written = 0

    def with_partition_columns() -> Iterator[pa.RecordBatch]:
        nonlocal written
        for batch in iter_batches(reader):
            timestamps = batch.column(timestamp_field)
            columns = batch.columns + [partition_values(timestamps, name) for name in PARTITION_FIELDS]
            written += batch.num_rows
            yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names + list(PARTITION_FIELDS))

    schema = reader.schema
    for name in PARTITION_FIELDS:
        schema = schema.append(pa.field(name, pa.string()))
    ds.write_dataset(
        pa.RecordBatchReader.from_batches(schema, with_partition_columns()),
        base_dir=workdir,
        format="parquet",
        partitioning=PARTITIONING,
        basename_template=f"{source_id}-{{i}}.parquet",
        file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"),
        max_rows_per_file=MAX_ROWS_PER_FILE,
        max_rows_per_group=ROW_GROUP_ROWS,
        existing_data_behavior="overwrite_or_ignore",
        use_threads=False,  # deterministic file numbering, so reruns overwrite the same names
    )
    return written
