"""The output stage: publishing the Parquet files the run's chunks wrote."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from chalicelib.errors import IntegrityError
from chalicelib.identity import source_id_for
from chalicelib.keys import pending_key, transformed_key
from chalicelib.observability import COUNT, SECONDS, emit_metrics
from chalicelib.output.publish import Publisher
from chalicelib.payloads import ChunkFiles, OutputResult, OutputState, Publication, RunRef, TransformedState
from chalicelib.services import Services


def output(state: TransformedState, services: Services) -> OutputState:
    """Publish the run's Parquet files under ``processed/<dataset>/year=/month=/day=/hour=/``.

    Transform wrote each chunk's files under the run's pending prefix, named as
    they are published; here they are copied into place on S3's side (no record
    passes through this function).  Files are named after the source key, its
    version, the plan's cuts and the chunk, so a rerun of the same version
    overwrites them, and a
    newer version of the key replaces an older one's files whatever order their
    runs finish in (see :mod:`chalicelib.output.publish`).  A run whose version a
    newer one superseded removes what it wrote and says so.  Quality warnings the
    verdict found are sent once the data is published.
    """
    run = state["run"]
    dataset = run["dataset"] or ""
    bucket = services.settings.processed_bucket
    chunks = services.staging.chunk_documents([transformed_key(run, index) for index in range(state["chunks"]["count"])],
                                              "list of transformed files")
    keys = [key for chunk in cast(list[ChunkFiles], chunks) for key in chunk["files"]]
    written = sum(chunk["records"] for chunk in cast(list[ChunkFiles], chunks))
    if written != state["outcome"]["records_valid"]:  # before anything reaches processed/
        raise IntegrityError(f"the chunks wrote {written} records but {state['outcome']['records_valid']} were valid")
    publisher = Publisher(services, run, dataset, source_id_for(run["source"]["bucket"], run["source"]["key"]), keys, written)
    owned_by_a_later_run = publisher.declare()
    if owned_by_a_later_run is None:
        services.objects.copy_all([(pending_key(run["staging_prefix"], key), key) for key in keys], bucket)
    published = owned_by_a_later_run or publisher.settle()
    emit_metrics(dataset, {
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
    if state["outcome"]["warnings"]:
        _alert(services, run, state["outcome"]["warnings"])
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


def _alert(services: Services, run: RunRef, warnings: list[str]) -> None:
    """A breached ``warn`` check or an anomaly: the data is written, the run flagged (its quality), and people told."""
    services.notifier.publish(
        f"ETL run data quality warning: {run['run_id']}",
        {"status": "QUALITY_WARNING", "run_id": run["run_id"], "dataset": run["dataset"], "source": run["source"],
         "warnings": warnings, "hint": "the run's records were written; see quality on GET /runs/{run_id}"},
    )
