"""The validate stage: one chunk of the run's source, read and judged record by record."""
from __future__ import annotations

import os
import tempfile
from typing import Any

import pyarrow as pa

from chalicelib.datasets.columns import source_fields, valid_schema
from chalicelib.errors import IntegrityError, transient_aws_errors
from chalicelib.identity import record_ids
from chalicelib.keys import chunk_keys_key, chunk_quarantine_key, valid_key, validated_key
from chalicelib.payloads import ChunkCounts, ChunkTask, ChunkValidated, ChunkValidation, ReasonSample
from chalicelib.quality.profile import ProfileBuilder
from chalicelib.services import Services
from chalicelib.sources.chunks import read_chunk
from chalicelib.storage.objects import ZSTD, ZSTD_CONTENT_TYPE, s3_uri
from chalicelib.validate.judge import Judge
from chalicelib.validate.reasons import quarantine_line

MAX_SAMPLE_REASONS = 5


def validate(task: ChunkTask, services: Services) -> ChunkValidated:
    """Split one chunk's records into valid ones (typed, with their record ids) and invalid ones (quarantined).

    Everything the verdict needs of the chunk (counts, the first reasons, its part
    of the quality profile, where its quarantined records and its key's distinct values are)
    goes to the chunk's ``validated.json``; records and lines are numbered within
    the chunk until the verdict numbers them within the file.

    Raises
    ------
    IntegrityError
        When a staged part holds another number of records than ingest staged.
    """
    run, chunk = task["run"], task["chunk"]
    dataset = services.datasets.get(run["dataset"])  # type: ignore[arg-type]
    source = s3_uri(run["source"]["bucket"], run["source"]["key"])
    judge = Judge(dataset)
    profiler = ProfileBuilder(source_fields(dataset), dataset.timestamp_field, dataset.key)
    bucket, index, schema = services.staging.bucket, chunk["index"], valid_schema(dataset)
    valid = invalid = 0
    samples: list[ReasonSample] = []
    fd, quarantine_path = tempfile.mkstemp(suffix=".jsonl.zst")
    os.close(fd)
    try:
        # compressed as written: a chunk of invalid records quarantines several times its size (every reason kept)
        with pa.CompressedOutputStream(quarantine_path, ZSTD) as quarantine, \
                read_chunk(chunk, dataset, services.objects, services.staging) as reading, \
                services.staging.writer(valid_key(run, index), schema) as writer, \
                transient_aws_errors(f"read chunk {index} of {source}"):
            for batch in reading.batches:
                kept, rejected = judge.judge(batch)
                writer.write_batch(valid_rows(kept, schema))
                profiler.add_valid(kept)
                valid += kept.num_rows
                invalid += len(rejected)
                quarantine.write("".join(quarantine_line(run_id=run["run_id"], source=source, record_number=record.record_number,
                                                         line=record.line, record=record.record, raw=record.raw,
                                                         reasons=record.reasons) + "\n" for record in rejected).encode())
                for record in rejected:
                    profiler.add_invalid(record.reasons)
                    if len(samples) < MAX_SAMPLE_REASONS:
                        samples.append(ReasonSample(record_number=record.record_number, line=record.line, **record.reasons[0]))
        if chunk["records"] is not None and valid + invalid != chunk["records"]:
            raise IntegrityError(f"chunk {index} of run {run['run_id']}: ingest staged {chunk['records']} records, "
                                 f"validate read {valid + invalid}")
        if invalid:
            services.objects.upload(quarantine_path, bucket, chunk_quarantine_key(run, index), ZSTD_CONTENT_TYPE)
    finally:
        os.unlink(quarantine_path)
    keys = _put_keys(services, chunk_keys_key(run, index), profiler.distinct_keys())
    services.runs.record_chunk(run, index=index, records=valid + invalid, valid=valid, invalid=invalid)
    services.objects.put_json(bucket, validated_key(run, index), ChunkValidation(
        index=index, records=valid + invalid, lines=reading.lines.lines, valid=valid, invalid=invalid, reasons=samples,
        profile=dict(profiler.part()), quarantine=chunk_quarantine_key(run, index) if invalid else None,
        distinct_keys=keys,
    ))
    return ChunkValidated(run=run, chunk=chunk, validated=ChunkCounts(records=valid + invalid, valid=valid, invalid=invalid))


def valid_rows(kept: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The judge's valid rows as transform reads them (``schema``: :func:`~chalicelib.datasets.columns.valid_schema`):
    the typed fields and each record's id (SHA-256 of its RFC 8785 text)."""
    columns: list[Any] = [kept.column(field.name) for field in schema if field.name != "record_id"]
    return pa.RecordBatch.from_arrays([*columns, record_ids(kept.column("record"))], schema=schema)


def _put_keys(services: Services, key: str, distinct: pa.Array | None) -> str | None:
    if distinct is None:
        return None
    schema = pa.schema([pa.field("key", distinct.type)])
    with services.staging.writer(key, schema) as writer:
        writer.write_table(pa.table({"key": distinct}, schema=schema))
    return key
