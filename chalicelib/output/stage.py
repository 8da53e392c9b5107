"""The output stage."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa

from chalicelib.errors import IntegrityError
from chalicelib.identity import source_id_for
from chalicelib.keys import manifest_key, processed_prefix
from chalicelib.output.partitions import HourlyParquetWriter
from chalicelib.payloads import OutputResult, OutputState, TransformedState
from chalicelib.services import Services
from chalicelib.storage.objects import s3_uri
from chalicelib.storage.staging import iter_batches

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
        written, paths = _write_partitions(reader, dataset.timestamp_field, source_id, Path(workdir))
        files = [(str(path), prefix + relative) for path, relative in paths]
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


def _write_partitions(reader: pa.ipc.RecordBatchFileReader, timestamp_field: str, source_id: str,
                      workdir: Path) -> tuple[int, list[tuple[Path, str]]]:
    writer = HourlyParquetWriter(workdir, reader.schema, timestamp_field, source_id)
    for batch in iter_batches(reader):
        writer.write(batch)
    return writer.rows, writer.close()
