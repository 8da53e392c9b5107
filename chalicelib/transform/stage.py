"""The transform stage."""
from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime

import pyarrow as pa

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import TIMESTAMP, output_schema, source_fields
from chalicelib.keys import transformed_key, valid_key
from chalicelib.payloads import RunRef, TransformedState, TransformResult, ValidatedState
from chalicelib.services import Services
from chalicelib.storage.staging import iter_batches
from chalicelib.transform.derive import derive


def transform(state: ValidatedState, services: Services, *, now: datetime | None = None) -> TransformedState:
    """Type the valid records, add derived fields and enrichment, and stage the result."""
    run = state["run"]
    dataset = services.datasets.get(run["dataset"])  # type: ignore[arg-type]
    schema = output_schema(dataset)
    processed_at = now or datetime.now(UTC)
    records = 0
    with services.staging.reader(valid_key(run)) as reader, \
            services.staging.writer(transformed_key(run), schema) as writer:
        for batch in iter_batches(reader):
            table = transform_batch(dataset, schema, batch, run, processed_at)
            writer.write_table(table)
            records += table.num_rows
    return TransformedState(
        run=run, outcome=state["outcome"], transform=TransformResult(records=records, staged_key=transformed_key(run))
    )


def record_ids(canonical_json: pa.StringArray) -> pa.StringArray:
    """Hex SHA-256 of each record's RFC 8785 serialization.

    The UTF-8 bytes are hashed where Arrow holds them (slices of its data buffer),
    as converting a million strings to Python objects costs more than hashing them.
    """
    if canonical_json.type != pa.string():  # the offsets read below are int32
        raise TypeError(f"record ids are computed from a string array, not {canonical_json.type}")
    if canonical_json.null_count:
        raise ValueError("every valid record has its RFC 8785 text")
    _, offsets_buffer, data_buffer = canonical_json.buffers()
    start = canonical_json.offset
    offsets = memoryview(offsets_buffer).cast("i")[start : start + len(canonical_json) + 1]  # Arrow: little-endian int32
    data = memoryview(data_buffer if data_buffer is not None else b"")
    sha256 = hashlib.sha256
    return pa.array([sha256(data[begin:end]).hexdigest() for begin, end in itertools.pairwise(offsets)], pa.string())


def transform_batch(dataset: Dataset, schema: pa.Schema, valid: pa.RecordBatch, run: RunRef, processed_at: datetime) -> pa.Table:
    """Turn validate's typed rows into a table with the dataset's output ``schema``."""
    table = pa.Table.from_batches([valid.select([field.name for field in source_fields(dataset)])])
    for spec in dataset.derived:
        table = table.append_column(schema.field(spec["name"]), derive(spec, table))
    count = valid.num_rows
    source = run["source"]
    enrichment = {
        "record_id": record_ids(valid.column("record")),
        "processed_at": pa.repeat(pa.scalar(processed_at, TIMESTAMP), count),
        "source_bucket": pa.repeat(pa.scalar(source["bucket"], pa.string()), count),
        "source_key": pa.repeat(pa.scalar(source["key"], pa.string()), count),
        "source_version": pa.repeat(pa.scalar(source["version"], pa.string()), count),
        "run_id": pa.repeat(pa.scalar(run["run_id"], pa.string()), count),
    }
    for name, column in enrichment.items():
        table = table.append_column(schema.field(name), column)
    return table.cast(schema)
