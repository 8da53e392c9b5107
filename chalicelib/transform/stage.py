"""The transform stage: one chunk's valid records, derived and enriched, written as hourly Parquet."""
from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import TIMESTAMP, output_schema, source_fields
from chalicelib.errors import IntegrityError
from chalicelib.identity import source_id_for, version_tag
from chalicelib.keys import output_stem, pending_key, processed_prefix, transformed_key, valid_key
from chalicelib.payloads import ChunkFiles, ChunkTransformed, ChunkValidated, RunRef, TransformResult
from chalicelib.services import Services
from chalicelib.storage.staging import iter_batches
from chalicelib.transform.derive import derive
from chalicelib.transform.partitions import HourlyParquetWriter

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


def transform(task: ChunkValidated, services: Services, *, now: datetime | None = None) -> ChunkTransformed:
    """Derive and enrich one chunk's valid records and write them as Snappy Parquet, one file per hour of data.

    The files wait under the run's pending prefix, outside ``processed/``, named
    as they will be published (``<source-id>-<version>-<plan>-<chunk>-<n>.parquet``
    under ``processed/<dataset>/year=/month=/day=/hour=/``): the verdict on the
    whole file decides whether output publishes them.  A rerun with the same plan
    writes the same names.

    Raises
    ------
    IntegrityError
        When the chunk holds another number of valid records than validate staged.
    """
    run, chunk = task["run"], task["chunk"]
    dataset = services.datasets.get(run["dataset"])  # type: ignore[arg-type]
    schema = output_schema(dataset)
    processed_at = now or datetime.now(UTC)
    source = run["source"]
    stem = output_stem(source_id_for(source["bucket"], source["key"]), version_tag(source["version"], source["etag"]),
                       chunk.get("plan", ""), chunk["index"])  # none in a plan written before names held it
    with tempfile.TemporaryDirectory() as workdir, services.staging.reader(valid_key(run, chunk["index"])) as reader:
        writer = HourlyParquetWriter(Path(workdir), schema, dataset.timestamp_field, stem)
        for batch in iter_batches(reader):
            for transformed in transform_batch(dataset, schema, batch, run, processed_at).to_batches():
                writer.write(transformed)
        files = [(str(path), processed_prefix(dataset.name) + relative) for path, relative in writer.close()]
        if writer.rows != task["validated"]["valid"]:
            raise IntegrityError(f"chunk {chunk['index']} of run {run['run_id']}: validate staged "
                                 f"{task['validated']['valid']} valid records, transform read {writer.rows}")
        services.objects.upload_all([(path, pending_key(run["staging_prefix"], key)) for path, key in files], services.staging.bucket,
                                    PARQUET_CONTENT_TYPE)
    keys = [key for _, key in files]
    services.objects.put_json(services.staging.bucket, transformed_key(run, chunk["index"]),
                              ChunkFiles(index=chunk["index"], records=writer.rows, files=keys))
    return ChunkTransformed(**task, transformed=TransformResult(records=writer.rows, files=len(keys)))


def transform_batch(dataset: Dataset, schema: pa.Schema, valid: pa.RecordBatch, run: RunRef, processed_at: datetime) -> pa.Table:
    """Turn validate's typed rows into a table with the dataset's output ``schema``."""
    table = pa.Table.from_batches([valid.select([field.name for field in source_fields(dataset)])])
    for spec in dataset.derived:
        table = table.append_column(schema.field(spec["name"]), derive(spec, table))
    count = valid.num_rows
    source = run["source"]
    enrichment = {
        "record_id": valid.column("record_id"),
        "processed_at": pa.repeat(pa.scalar(processed_at, TIMESTAMP), count),
        "source_bucket": pa.repeat(pa.scalar(source["bucket"], pa.string()), count),
        "source_key": pa.repeat(pa.scalar(source["key"], pa.string()), count),
        "source_version": pa.repeat(pa.scalar(source["version"], pa.string()), count),
        "run_id": pa.repeat(pa.scalar(run["run_id"], pa.string()), count),
    }
    for name, column in enrichment.items():
        table = table.append_column(schema.field(name), column)
    return table.cast(schema)
