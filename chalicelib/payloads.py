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


class ValidatedState(IngestState):
    pass


class TransformedState(ValidatedState):
    transform: TransformResult


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


Payload = TypeVar("Payload", IngestEvent, IngestState, ValidatedState, TransformedState)


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
