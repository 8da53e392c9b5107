"""The ingest stage."""
from __future__ import annotations

from typing import Any

from chalicelib.datasets import UnknownDatasetError
from chalicelib.errors import DataError, rejection_reason, transient_aws_errors
from chalicelib.identity import RequestedSource, dataset_from_key, requested_source, run_id_of
from chalicelib.ingest.plan import plan_chunks
from chalicelib.keys import plan_key, staging_prefix
from chalicelib.outcomes import outcome
from chalicelib.payloads import ChunkPlan, IngestState, RunRef
from chalicelib.services import Services
from chalicelib.storage.objects import s3_uri

MEGABYTE = 1 << 20


def ingest(payload: dict[str, Any], *, execution_id: str, started_at: str, services: Services) -> IngestState:
    """Pin the source object, claim the run and plan its chunks.

    Parameters
    ----------
    payload
        The execution input: ``{"bucket", "key", "version"?, "dataset"?, "chunk_mb"?}``
        or an EventBridge "Object Created" event.
    execution_id
        ARN of the Step Functions execution (``$$.Execution.Id``).
    started_at
        Start time of the execution (``$$.Execution.StartTime``).

    Returns
    -------
    IngestState
        The run reference, the chunk plan the Map reads, and a provisional outcome:
        ``ACCEPTED``, ``REJECTED`` with the reason when the file as a whole is
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
    plan = ChunkPlan(count=0, bucket=services.staging.bucket, key=plan_key(run), chunk_bytes=0,
                     max_concurrency=services.settings.chunk_concurrency)
    if not services.runs.claim(run, replay_of=requested.replay_of):
        return IngestState(run=run, chunks=plan, outcome=outcome("DUPLICATE", reason=(
            f"{s3_uri(source['bucket'], source['key'])} (version {source['version'] or source['etag']}) already has run {run_id}")))
    try:
        plan = _plan(run, requested, plan, services)
    except DataError as error:
        reason = rejection_reason(error, s3_uri(source["bucket"], source["key"]))
        return IngestState(run=run, chunks=plan, outcome=outcome("REJECTED", reason=reason))
    return IngestState(run=run, chunks=plan, outcome=outcome("ACCEPTED"))


def _plan(run: RunRef, requested: RequestedSource, plan: ChunkPlan, services: Services) -> ChunkPlan:
    """Cut the source into chunks and write the plan the Map reads."""
    if run["dataset"] is None:
        raise UnknownDatasetError(
            "cannot tell the dataset: the key is not under raw/<dataset>/ and the input names none "
            f"(known: {', '.join(services.datasets.names())})"
        )
    dataset = services.datasets.get(run["dataset"])
    chunk_mb = requested.chunk_mb or dataset.chunk_mb or services.settings.chunk_mb
    chunk_bytes = max(1, round(chunk_mb * MEGABYTE))
    with transient_aws_errors(f"read {s3_uri(run['source']['bucket'], run['source']['key'])}"):
        chunks = plan_chunks(run, dataset, services, chunk_bytes)
    services.objects.put_json(plan["bucket"], plan["key"], chunks)
    services.runs.record_plan(run, chunks=len(chunks))
    return ChunkPlan(**{**plan, "count": len(chunks), "chunk_bytes": chunk_bytes})
