"""The run record: what a run is, in one place.

One DynamoDB item per run holds these attributes.  They are written by the
run store's transitions (:class:`chalicelib.storage.runs.RunStore`) and by the
state machine's ``dynamodb:updateItem`` tasks (``statemachines/etl.asl.json``:
a test checks that every attribute those tasks write is declared here), and
read back only through :func:`run_view`, the shape ``GET /runs/{id}``, the
listing and ``etl run`` show.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, TypedDict

from chalicelib.times import utc_timestamp

# --- attributes -----------------------------------------------------------------------------------
RUN_ID: Final = "run_id"
KIND: Final = "kind"  # the constant RUN_KIND: the partition key of the all-runs index
STATUS: Final = "status"
DATASET: Final = "dataset"
EXECUTION_ARN: Final = "execution_arn"
SOURCE_BUCKET: Final = "source_bucket"
SOURCE_KEY: Final = "source_key"
SOURCE_VERSION: Final = "source_version"
SOURCE_ETAG: Final = "source_etag"
SOURCE_SIZE: Final = "source_size"
STARTED_AT: Final = "started_at"
UPDATED_AT: Final = "updated_at"
FINISHED_AT: Final = "finished_at"
EXPIRES_AT: Final = "expires_at"  # epoch seconds: the table's TTL attribute
REPLAY_OF: Final = "replay_of"
RECORDS_IN: Final = "records_in"
RECORDS_VALID: Final = "records_valid"
RECORDS_INVALID: Final = "records_invalid"
RECORDS_TRANSFORMED: Final = "records_transformed"
RECORDS_WRITTEN: Final = "records_written"
QUARANTINE: Final = "quarantine"
DLQ_MESSAGE_IDS: Final = "dlq_message_ids"
REASON: Final = "reason"
TRANSFORMED_AT: Final = "transformed_at"
OUTPUT_FILES: Final = "output_files"
OUTPUT_PARTITIONS: Final = "output_partitions"
OUTPUT_MANIFEST: Final = "output_manifest"
FAILED_STATE: Final = "failed_state"
ERROR: Final = "error"
CAUSE: Final = "cause"
REDRIVE_COUNT: Final = "redrive_count"
REDRIVEN_AT: Final = "redriven_at"
QUALITY: Final = "quality"  # the run's data-quality profile, checks and anomalies (chalicelib.quality)
CHUNKS: Final = "chunks"  # how many chunks ingest cut the source into
CHUNKS_VALIDATED: Final = "chunks_validated"  # a number set: the chunks whose counts were added so far

RUN_KIND: Final = "run"
TTL_ATTRIBUTE: Final = EXPIRES_AT
RETENTION_SECONDS: Final = 180 * 24 * 3600  # DynamoDB's TTL deletes a run 180 days after it started
FAILURE_ATTRIBUTES: Final = (FAILED_STATE, ERROR, CAUSE, FINISHED_AT)  # what a redrive clears and a refused one restores
MAX_CAUSE_CHARS: Final = 4000


class RunItem(TypedDict, total=False):
    """A run item as stored (``total=False``: a run gains attributes as it goes)."""

    run_id: str
    kind: str
    status: RunStatus
    dataset: str
    execution_arn: str
    source_bucket: str
    source_key: str
    source_version: str
    source_etag: str
    source_size: int
    started_at: str
    updated_at: str
    finished_at: str
    expires_at: int
    replay_of: str
    records_in: int
    records_valid: int
    records_invalid: int
    records_transformed: int
    records_written: int
    quarantine: str
    dlq_message_ids: list[str]
    reason: str
    transformed_at: str
    output_files: int
    output_partitions: int
    output_manifest: str
    failed_state: str
    error: str
    cause: str
    redrive_count: int
    redriven_at: str
    quality: dict[str, Any]
    chunks: int
    chunks_validated: list[int]


ATTRIBUTES: Final = frozenset(RunItem.__annotations__)

# --- statuses -------------------------------------------------------------------------------------
RunStatus = Literal["RUNNING", "WRITING", "SUCCEEDED", "REJECTED", "FAILED", "SUPERSEDED"]
RUNNING: Final = "RUNNING"
WRITING: Final = "WRITING"  # transformed; Output is writing the Parquet files
SUCCEEDED: Final = "SUCCEEDED"
REJECTED: Final = "REJECTED"  # a data problem: not redrivable, replay once the data is fixed
FAILED: Final = "FAILED"  # redrivable from the failed state
SUPERSEDED: Final = "SUPERSEDED"  # a newer version of the key published first; this run removed its files
RUN_STATUSES: Final[tuple[RunStatus, ...]] = (RUNNING, WRITING, SUCCEEDED, REJECTED, FAILED, SUPERSEDED)
TERMINAL_STATUSES: Final[tuple[RunStatus, ...]] = (SUCCEEDED, REJECTED, FAILED, SUPERSEDED)
OUTCOME_STATUSES: Final[tuple[RunStatus, ...]] = (SUCCEEDED, REJECTED, SUPERSEDED)  # recorded by the state machine itself
REDRIVABLE_STATUS: Final = FAILED


# --- times ----------------------------------------------------------------------------------------
def expiry_for(started_at: str) -> int:
    """Epoch second at which the run table's TTL may delete a run."""
    return int(datetime.fromisoformat(started_at).timestamp()) + RETENTION_SECONDS


# --- the view -------------------------------------------------------------------------------------
class SourceView(TypedDict):
    bucket: str | None
    key: str | None
    version: str | None
    etag: str | None
    size: int | None


# "in" is a keyword, so this one takes the functional syntax.
CountsView = TypedDict(
    "CountsView", {"in": int | None, "valid": int | None, "invalid": int | None, "written": int | None}
)


class RunView(TypedDict):
    """A run as the API and the CLI show it (``schemas/api/Run.schema.json``): every field present, ``None`` when unknown."""

    run_id: str
    status: str | None
    dataset: str | None
    source: SourceView
    counts: CountsView
    started_at: str | None
    updated_at: str | None
    transformed_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    records_transformed: int | None
    quarantine: str | None
    dlq_message_ids: list[str]
    reason: str | None
    output_files: int | None
    output_partitions: int | None
    failed_state: str | None
    error: str | None
    cause: str | None
    execution_arn: str | None
    replay_of: str | None
    redrive_count: int
    redriven_at: str | None
    quality: dict[str, Any] | None
    chunks: int | None
    chunks_validated: int


def _shown_time(value: str | None) -> str | None:
    """Times as the API shows them; Step Functions context times differ between AWS and moto."""
    return utc_timestamp(value) if value else None


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


def run_view(item: RunItem | dict[str, Any]) -> RunView:
    """The one mapping from a stored run to what the API and the CLI show."""
    started, finished = _shown_time(item.get(STARTED_AT)), _shown_time(item.get(FINISHED_AT))
    return RunView(
        run_id=item[RUN_ID],
        status=item.get(STATUS),
        dataset=item.get(DATASET),
        source=SourceView(
            bucket=item.get(SOURCE_BUCKET),
            key=item.get(SOURCE_KEY),
            version=item.get(SOURCE_VERSION),
            etag=item.get(SOURCE_ETAG),
            size=item.get(SOURCE_SIZE),
        ),
        counts={
            "in": item.get(RECORDS_IN),
            "valid": item.get(RECORDS_VALID),
            "invalid": item.get(RECORDS_INVALID),
            "written": item.get(RECORDS_WRITTEN),
        },
        started_at=started,
        updated_at=_shown_time(item.get(UPDATED_AT)),
        transformed_at=_shown_time(item.get(TRANSFORMED_AT)),
        finished_at=finished,
        duration_seconds=_seconds_between(started, finished),
        records_transformed=item.get(RECORDS_TRANSFORMED),
        quarantine=item.get(QUARANTINE),
        dlq_message_ids=sorted(item.get(DLQ_MESSAGE_IDS) or []),
        reason=item.get(REASON),
        output_files=item.get(OUTPUT_FILES),
        output_partitions=item.get(OUTPUT_PARTITIONS),
        failed_state=item.get(FAILED_STATE),
        error=item.get(ERROR),
        cause=item.get(CAUSE),
        execution_arn=item.get(EXECUTION_ARN),
        replay_of=item.get(REPLAY_OF),
        redrive_count=int(item.get(REDRIVE_COUNT) or 0),
        redriven_at=_shown_time(item.get(REDRIVEN_AT)),
        quality=item.get(QUALITY),
        chunks=item.get(CHUNKS),
        chunks_validated=len(item.get(CHUNKS_VALIDATED) or []),
    )
