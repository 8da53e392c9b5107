"""Payloads that travel between states.

Only references and counts cross state boundaries (Step Functions caps a
payload at 256 KiB); records stay in S3.  ``statemachines/etl.asl.json``
reads these fields by JSONPath, so every key is always present (``None`` when
it does not apply).
"""
from __future__ import annotations

from typing import Literal, TypedDict

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
    """Counts and verdict after ingest (provisional) and validate (final)."""

    verdict: Verdict
    reason: str | None
    records_in: int
    records_valid: int
    records_invalid: int
    quarantine: str | None
    reasons: list[ReasonSample]


class TransformResult(TypedDict):
    records: int
    staged_key: str


class OutputResult(TypedDict):
    records_written: int
    files: int
    partitions: int
    manifest: str


class IngestState(TypedDict):
    run: RunRef
    outcome: Outcome


class ValidatedState(IngestState):
    pass


class TransformedState(ValidatedState):
    transform: TransformResult


class OutputState(TransformedState):
    output: OutputResult
