"""The verdict on a whole file, once every chunk is validated and transformed.

The chunks' findings are added up in file order: counts, the first reasons and
the quarantine (numbered within the file), the quality profile with the
dataset's checks and history; the run is rejected when nothing is valid, when
the invalid share exceeds the dataset's ``max_invalid_ratio`` or a ``reject``
check breaches, exactly as for a file read in one piece.
"""
from __future__ import annotations

import itertools
from typing import cast

import pyarrow as pa

from chalicelib import run_record as r
from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import source_fields
from chalicelib.errors import rejection_reason
from chalicelib.keys import quarantine_key, validated_key
from chalicelib.observability import BYTES, COUNT, emit_metrics
from chalicelib.outcomes import outcome
from chalicelib.payloads import ChunkValidation, IngestState, ReasonSample, RunRef, TransformedState, TransformTotal
from chalicelib.quality.anomalies import HISTORY_RUNS
from chalicelib.quality.assess import assess
from chalicelib.quality.profile import ProfileBuilder, ProfilePart, QualityProfile
from chalicelib.services import Services
from chalicelib.sources.errors import EmptySourceError
from chalicelib.storage.objects import s3_uri
from chalicelib.storage.staging import iter_batches
from chalicelib.validate.quarantine import QuarantinePart, write_quarantine
from chalicelib.validate.stage import MAX_SAMPLE_REASONS


def verdict(state: IngestState, services: Services) -> TransformedState:
    """Judge the whole file from its chunks' findings, and record the run's counts and quality.

    Returns
    -------
    TransformedState
        The outcome (``ACCEPTED`` or ``REJECTED`` with the reason; quarantine, first
        reasons, quality warnings) and what the chunks transformed, for output.

    Raises
    ------
    IntegrityError
        When a chunk left no findings.
    """
    run, plan = state["run"], state["chunks"]
    dataset = services.datasets.get(run["dataset"])  # type: ignore[arg-type]
    found = cast(list[ChunkValidation], services.staging.chunk_documents([validated_key(run, i) for i in range(plan["count"])],
                                                                         "validation"))
    records_before = list(itertools.accumulate((chunk["records"] for chunk in found), initial=0))
    lines_before = list(itertools.accumulate((chunk["lines"] for chunk in found), initial=0))
    valid, invalid = sum(chunk["valid"] for chunk in found), sum(chunk["invalid"] for chunk in found)
    samples = [_in_file(sample, records_before[chunk["index"]], lines_before[chunk["index"]])
               for chunk in found for sample in chunk["reasons"]][:MAX_SAMPLE_REASONS]
    location = None
    if invalid:
        key = quarantine_key(run)
        write_quarantine(services.objects, services.staging.bucket, key, [
            QuarantinePart(chunk["quarantine"], records_before[chunk["index"]], lines_before[chunk["index"]])
            for chunk in found if chunk["quarantine"]])
        location = s3_uri(services.staging.bucket, key)
    profile = ProfileBuilder.merged(source_fields(dataset), dataset.timestamp_field, dataset.key,
                                    (cast(ProfilePart, chunk["profile"]) for chunk in found),
                                    _distinct_keys(services, [chunk["distinct_keys"] for chunk in found]))
    assessment = assess(dataset.checks, profile.build(run["started_at"]), _history(services, run))
    services.runs.record_validation(run, records_in=valid + invalid, records_valid=valid, records_invalid=invalid,
                                    quarantine=location, quality=assessment.quality)
    reason = _rejection(dataset, run, valid, invalid, samples) or assessment.rejection
    emit_metrics(dataset.name, {
        "RecordsIn": (valid + invalid, COUNT), "RecordsValid": (valid, COUNT), "RecordsInvalid": (invalid, COUNT),
        "SourceBytes": (run["source"]["size"] or 0, BYTES), "RunsRejected": (int(reason is not None), COUNT),
        "ChecksBreached": (sum(check["breached"] for check in assessment.quality["checks"]), COUNT),
        "Anomalies": (len(assessment.quality["anomalies"]), COUNT),
        "QualityWarnings": (0 if reason else len(assessment.warnings), COUNT),
    })
    return TransformedState(
        run=run, chunks=plan,
        outcome=outcome("REJECTED" if reason else "ACCEPTED", reason=reason, records_in=valid + invalid, records_valid=valid,
                        records_invalid=invalid, quarantine=location, reasons=samples,
                        warnings=[] if reason else assessment.warnings),
        transform=TransformTotal(records=valid),  # each chunk's transform checked its count; output checks the total
    )


def _in_file(sample: ReasonSample, records_before: int, lines_before: int) -> ReasonSample:
    """A reason sample numbered within the file instead of its chunk."""
    line = sample["line"]
    return ReasonSample(path=sample["path"], rule=sample["rule"], message=sample["message"],
                        record_number=sample["record_number"] + records_before,
                        line=None if line is None else line + lines_before)


def _distinct_keys(services: Services, keys: list[str | None]) -> list[pa.Array]:
    arrays: list[pa.Array] = []
    for key in keys:
        if key is not None:
            with services.staging.reader(key) as reader:
                arrays += [batch.column("key") for batch in iter_batches(reader)]
    return arrays


def _history(services: Services, run: RunRef) -> list[QualityProfile]:
    """The quality of the dataset's last successful runs, newest first."""
    # the status index, filtered by dataset: a burst of the dataset's files in flight cannot crowd out its history
    page = services.runs.list(status=r.SUCCEEDED, dataset=run["dataset"], limit=HISTORY_RUNS + 1)
    earlier = [item[r.QUALITY] for item in page.runs if item.get(r.QUALITY) and item[r.RUN_ID] != run["run_id"]]
    return cast(list[QualityProfile], earlier[:HISTORY_RUNS])


def _rejection(dataset: Dataset, run: RunRef, valid: int, invalid: int, samples: list[ReasonSample]) -> str | None:
    """Why the run is rejected, or ``None`` when it is accepted."""
    total = valid + invalid
    if total == 0:
        return rejection_reason(EmptySourceError(), s3_uri(run["source"]["bucket"], run["source"]["key"]))
    first = ""
    if samples:
        s = samples[0]
        first = f"; first: line {s['line']}: {s['path']}: {s['rule']}: {s['message']}"
    if valid == 0:
        return f"none of the {total} records is valid{first}"
    if invalid / total > dataset.max_invalid_ratio:
        return (f"{invalid} of {total} records are invalid ({invalid / total:.1%}), above the dataset's "
                f"limit of {dataset.max_invalid_ratio:.0%}{first}")
    return None
