"""The ingest stage."""
from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import rfc8785

from chalicelib.datasets import UnknownDatasetError
from chalicelib.errors import DataError, transient_aws_errors
from chalicelib.identity import dataset_from_key, requested_source, run_id_of
from chalicelib.ingest.errors import EmptySourceError
from chalicelib.ingest.formats import ParsedRecord, detect_format, parse
from chalicelib.outcomes import outcome
from chalicelib.payloads import IngestState, RunRef
from chalicelib.services import Services
from chalicelib.staging_keys import ingested_key, staging_prefix
from chalicelib.storage.objects import s3_uri

BATCH_ROWS = 10_000
STAGED_SCHEMA = pa.schema(
    [
        pa.field("record_number", pa.int64(), nullable=False),
        pa.field("line", pa.int64()),
        pa.field("record", pa.string()),  # RFC 8785 canonical JSON of the parsed record
        pa.field("raw", pa.string()),  # source text of a record that could not be parsed
        pa.field("error", pa.string()),  # why it could not be parsed
    ]
)


def ingest(payload: dict[str, Any], *, execution_id: str, started_at: str, services: Services) -> IngestState:
    """Pin the source object, claim the run and stage its records.

    Parameters
    ----------
    payload
        The execution input: ``{"bucket", "key", "version"?, "dataset"?}`` or an
        EventBridge "Object Created" event.
    execution_id
        ARN of the Step Functions execution (``$$.Execution.Id``).
    started_at
        Start time of the execution (``$$.Execution.StartTime``).

    Returns
    -------
    IngestState
        The run reference and a provisional outcome: ``ACCEPTED`` with
        ``records_in``, ``REJECTED`` with the reason when the file as a whole is
        unusable, or ``DUPLICATE`` when another execution owns this object version.
    """
    requested = requested_source(payload)
    source = services.objects.head(requested.bucket, requested.key, requested.version)
    run_id = run_id_of(source, requested.replay)
    run = RunRef(
        run_id=run_id,
        execution_id=execution_id,
        dataset=requested.dataset or dataset_from_key(source["key"]),
        source=source,
        started_at=started_at,
        staging_prefix=staging_prefix(run_id),
    )
    if not services.runs.start(run, replay_of=requested.replay_of):
        return IngestState(run=run, outcome=outcome("DUPLICATE", reason=f"{s3_uri(source['bucket'], source['key'])} "
                                                    f"(version {source['version'] or source['etag']}) already has run {run_id}"))
    try:
        records_in = _stage_records(run, services)
    except DataError as error:
        where = s3_uri(source["bucket"], source["key"])
        return IngestState(run=run, outcome=outcome("REJECTED", reason=f"{type(error).__name__}: {where}: {error}"))
    return IngestState(run=run, outcome=outcome("ACCEPTED", records_in=records_in))


def _stage_records(run: RunRef, services: Services) -> int:
    if run["dataset"] is None:
        raise UnknownDatasetError(
            "cannot tell the dataset: the key is not under raw/<dataset>/ and the input names none "
            f"(known: {', '.join(services.datasets.names())})"
        )
    dataset = services.datasets.get(run["dataset"])
    stream = services.objects.open(run["source"])
    try:
        buffered = io.BufferedReader(stream)
        fmt = detect_format(run["source"]["key"], buffered.peek(64))
        with services.staging.writer(ingested_key(run), STAGED_SCHEMA) as writer, \
                transient_aws_errors(f"read {s3_uri(run['source']['bucket'], run['source']['key'])}"):
            count = _write_batches(writer, parse(buffered, fmt, dataset.field_types))
    finally:
        stream.close()
    if count == 0:
        raise EmptySourceError("the file holds no records")
    return count


def _write_batches(writer: pa.ipc.RecordBatchFileWriter, records: Iterable[ParsedRecord]) -> int:
    columns: dict[str, list[Any]] = {name: [] for name in STAGED_SCHEMA.names}
    count = 0
    for record in records:
        count += 1
        canonical, raw, error = _canonical(record)
        columns["record_number"].append(record.record_number)
        columns["line"].append(record.line)
        columns["record"].append(canonical)
        columns["raw"].append(raw)
        columns["error"].append(error)
        if len(columns["record_number"]) >= BATCH_ROWS:
            writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=STAGED_SCHEMA))
            columns = {name: [] for name in STAGED_SCHEMA.names}
    if columns["record_number"] or count == 0:
        writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=STAGED_SCHEMA))
    return count


def _canonical(record: ParsedRecord) -> tuple[str | None, str | None, str | None]:
    """Serialize a parsed record with RFC 8785; values outside I-JSON cannot be."""
    if record.error is not None:
        return None, record.raw, record.error
    try:
        return rfc8785.dumps(record.value).decode("utf-8"), None, None
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as error:
        return None, json.dumps(record.value, ensure_ascii=False), f"not representable in I-JSON (RFC 7493): {error}"
