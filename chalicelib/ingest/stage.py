"""The ingest stage."""
from __future__ import annotations

import io
from typing import Any

from chalicelib.datasets import UnknownDatasetError
from chalicelib.errors import DataError, transient_aws_errors
from chalicelib.identity import dataset_from_key, requested_source, run_id_of
from chalicelib.keys import ingested_key, staging_prefix
from chalicelib.outcomes import outcome
from chalicelib.payloads import IngestState, RunRef
from chalicelib.services import Services
from chalicelib.sources.columnar import read_json_lines
from chalicelib.sources.errors import EmptySourceError
from chalicelib.sources.formats import detect_format, parse
from chalicelib.sources.staged import ingested_schema, parse_types, parsed_batches
from chalicelib.storage.objects import s3_uri


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
    if not services.runs.claim(run, replay_of=requested.replay_of):
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
    types = parse_types(dataset)
    schema = ingested_schema(types)
    stream = services.objects.open(run["source"])
    count = 0
    try:
        buffered = io.BufferedReader(stream)
        fmt = detect_format(run["source"]["key"], buffered.peek(64))
        if fmt == "jsonl" and types:
            batches = read_json_lines(buffered, schema)
        else:
            batches = parsed_batches(parse(buffered, fmt, dataset.field_types), schema)
        with services.staging.writer(ingested_key(run), schema) as writer, \
                transient_aws_errors(f"read {s3_uri(run['source']['bucket'], run['source']['key'])}"):
            for batch in batches:
                writer.write_batch(batch)
                count += batch.num_rows
    finally:
        stream.close()
    if count == 0:
        raise EmptySourceError("the file holds no records")
    return count
