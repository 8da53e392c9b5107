"""Payloads that travel between states.

Only references and counts cross state boundaries (Step Functions caps a
payload at 256 KiB); records stay in S3.  ``statemachines/etl.asl.json``
reads these fields by JSONPath, so every key is always present (``None`` when
it does not apply).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict, TypeVar, cast

from chalicelib.errors import EtlError

Verdict = Literal["ACCEPTED", "REJECTED", "DUPLICATE"]


class SourceRef(TypedDict):
    """The S3 object a run reads, pinned to one version."""

    bucket: str
    key: str
    version: str | None
    etag: str | None
    size: int | None


class RunRef(TypedDict):
    """Identity of a run, produced by ingest and passed to every later stage."""

    run_id: str
    execution_id: str
    dataset: str | None
    source: SourceRef
    started_at: str
    staging_prefix: str


class Reason(TypedDict):
    """Why one record is invalid: where, which rule, and the validator's words."""

    path: str
    rule: str
    message: str


class ReasonSample(Reason):
    """A reason with the record it belongs to, for messages and alerts."""

    record_number: int
    line: int | None


class Outcome(TypedDict):
    """Counts and verdict after ingest (provisional) and the verdict (final)."""

    verdict: Verdict
    reason: str | None
    records_in: int
    records_valid: int
    records_invalid: int
    quarantine: str | None
    reasons: list[ReasonSample]
    warnings: list[str]  # breached ``warn`` checks and anomalies: the data is written, people are told


ChunkFormat = Literal["jsonl", "csv", "staged"]
Compression = Literal["none", "zstd"]


class ChunkRef(TypedDict):
    """One chunk of a run's source: an item of the plan the Map reads.

    Either a byte range of the source itself (JSON Lines and CSV, cut by ingest
    without parsing), or a part ingest wrote while streaming a file that cannot
    be cut by range (gzip: its text, Zstandard-compressed; a JSON array: its
    records, staged).  Records and lines are numbered from 1 within a chunk; the
    verdict turns them into the file's numbers.
    """

    index: int
    bucket: str
    key: str
    version: str | None
    start: int
    end: int | None  # [start, end) of the object; None: to its end
    format: ChunkFormat
    compression: Compression
    header: list[str] | None  # CSV column names of a chunk after the file's first
    records: int | None  # of a staged part: what ingest staged
    lines: int | None  # of a staged part: the source lines it spans
    plan: str  # the plan's cuts (identity.plan_tag): in the names of the chunk's files


class ChunkPlan(TypedDict):
    """Where a run's chunk plan is (a JSON array of :class:`ChunkRef`) and how wide the Map runs it."""

    count: int
    bucket: str
    key: str
    chunk_bytes: int  # the chunk size the run was planned with: for whoever reads the execution's history
    max_concurrency: int


class ChunkCounts(TypedDict):
    records: int
    valid: int
    invalid: int


class TransformResult(TypedDict):
    """What a chunk transformed: records, and the Parquet files waiting to be published."""

    records: int
    files: int


class TransformTotal(TypedDict):
    """What the run's chunks transformed, for the run record's counts."""

    records: int


class OutputResult(TypedDict):
    """What Output published (all 0 and no manifest when the run was superseded)."""

    records_written: int
    files: int
    partitions: int
    manifest: str | None


class Publication(TypedDict):
    """Whether a newer version of the key had published first, so this run removed what it wrote."""

    superseded: bool
    reason: str | None


class IngestState(TypedDict):
    run: RunRef
    outcome: Outcome
    chunks: ChunkPlan


class ChunkTask(TypedDict):
    """What one iteration of the Map gets: the run and its chunk."""

    run: RunRef
    chunk: ChunkRef


class ChunkValidated(ChunkTask):
    validated: ChunkCounts


class ChunkTransformed(ChunkValidated):
    transformed: TransformResult


# --- handed from stage to stage through S3 (too large for a state's payload) ------------------------
class ChunkValidation(TypedDict):
    """What validate found in one chunk, for the verdict (``validated.json``); numbers are the chunk's own."""

    index: int
    records: int
    lines: int  # the source lines the chunk went through, blank ones included
    valid: int
    invalid: int
    reasons: list[ReasonSample]  # the first few
    profile: dict[str, Any]  # its part of the run's quality profile (chalicelib.quality.profile.ProfilePart)
    quarantine: str | None  # key of its invalid records in the processed bucket
    distinct_keys: str | None  # where the distinct values of the dataset's key in it are (an Arrow file)


class ChunkFiles(TypedDict):
    """The Parquet files transform wrote for one chunk (``transformed.json``), at the keys they are published at."""

    index: int
    records: int
    files: list[str]


class TransformedState(IngestState):
    """After the verdict: the whole file's outcome and what its chunks transformed."""

    transform: TransformTotal


class OutputState(TransformedState):
    output: OutputResult
    publication: Publication


class IngestEvent(TypedDict):
    """What the Ingest state sends: the execution input and the execution's identity."""

    input: dict[str, Any]
    execution_id: str
    started_at: str


class PayloadError(EtlError):
    """A Lambda event lacks what its state must send: a bug in the state machine, never retried."""


Payload = TypeVar("Payload", IngestEvent, IngestState, ChunkTask, ChunkValidated, TransformedState)


def parse_payload(event: Mapping[str, Any], shape: type[Payload]) -> Payload:
    """``event`` as the payload ``shape`` it must be, checked at the handler boundary.

    Raises
    ------
    PayloadError
        Naming the keys the state machine did not send.
    """
    required: frozenset[str] = getattr(shape, "__required_keys__")  # noqa: B009  (typing does not declare it on TypedDicts)
    missing = sorted(key for key in required if key not in event)
    if missing:
        raise PayloadError(f"a {shape.__name__} payload needs {', '.join(missing)}; got {', '.join(sorted(event)) or 'nothing'}")
    return cast(Payload, event)
