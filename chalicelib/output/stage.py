"""The output stage."""
from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from chalicelib.errors import IntegrityError
from chalicelib.identity import source_id_for, version_tag
from chalicelib.keys import processed_prefix
from chalicelib.observability import COUNT, SECONDS, emit_metrics
from chalicelib.output.partitions import HourlyParquetWriter
from chalicelib.output.publish import Publisher, output_stem
from chalicelib.payloads import OutputResult, OutputState, Publication, TransformedState
from chalicelib.services import Services
from chalicelib.storage.staging import iter_batches

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


def output(state: TransformedState, services: Services) -> OutputState:
    """Write the transformed records to ``processed/<dataset>/year=/month=/day=/hour=/`` and publish them.

    Files are named after the source key and its version (``<source_id>-<version>-<n>.parquet``),
    so a rerun of the same version overwrites them, and a newer version of the key
    replaces an older one's files whatever order their runs finish in (see
    :mod:`chalicelib.output.publish`).  A run whose version a newer one superseded
    removes what it wrote and says so.
    """
    run = state["run"]
    dataset = services.datasets.get(run["dataset"])  # type: ignore[arg-type]
    bucket = services.settings.processed_bucket
    source_id = source_id_for(run["source"]["bucket"], run["source"]["key"])
    stem = output_stem(source_id, version_tag(run["source"]["version"], run["source"]["etag"]))
    prefix = processed_prefix(dataset.name)
    with tempfile.TemporaryDirectory() as workdir, services.staging.reader(state["transform"]["staged_key"]) as reader:
        written, paths = _write_partitions(reader, dataset.timestamp_field, stem, Path(workdir))
        if written != state["outcome"]["records_valid"]:  # before anything reaches processed/
            raise IntegrityError(f"wrote {written} records but {state['outcome']['records_valid']} were valid")
        files = [(str(path), prefix + relative) for path, relative in paths]
        keys = [key for _, key in files]
        publisher = Publisher(services, run, dataset.name, source_id, keys, written)
        owned_by_a_later_run = publisher.declare()
        if owned_by_a_later_run is None:
            services.objects.upload_all(files, bucket, PARQUET_CONTENT_TYPE)
    published = owned_by_a_later_run or publisher.settle()
    emit_metrics(dataset.name, {
        "RecordsWritten": (0 if published.superseded else written, COUNT),
        "RunsSuperseded": (int(published.superseded is not None), COUNT),
        "SecondsToOutput": ((datetime.now(UTC) - datetime.fromisoformat(run["started_at"])).total_seconds(), SECONDS),
    })
    if published.superseded is not None:
        return OutputState(
            **state,
            output=OutputResult(records_written=0, files=0, partitions=0, manifest=None),
            publication=Publication(superseded=True, reason=published.superseded),
        )
    return OutputState(
        **state,
        output=OutputResult(
            records_written=written,
            files=len(keys),
            partitions=len({key.rsplit("/", 1)[0] for key in keys}),
            manifest=published.manifest,
        ),
        publication=Publication(superseded=False, reason=None),
    )


def _write_partitions(reader: pa.ipc.RecordBatchFileReader, timestamp_field: str, stem: str,
                      workdir: Path) -> tuple[int, list[tuple[Path, str]]]:
    writer = HourlyParquetWriter(workdir, reader.schema, timestamp_field, stem)
    for batch in iter_batches(reader):
        writer.write(batch)
    return writer.rows, writer.close()
