"""The validate stage."""
from __future__ import annotations

import os
import tempfile
from typing import Any, cast

from chalicelib import run_record as r
from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import source_fields
from chalicelib.errors import IntegrityError
from chalicelib.keys import ingested_key, quarantine_key, valid_key
from chalicelib.observability import BYTES, COUNT, emit_metrics
from chalicelib.outcomes import outcome
from chalicelib.payloads import IngestState, ReasonSample, RunRef, ValidatedState
from chalicelib.quality.anomalies import HISTORY_RUNS
from chalicelib.quality.assess import assess
from chalicelib.quality.profile import ProfileBuilder, QualityProfile
from chalicelib.services import Services
from chalicelib.storage.objects import s3_uri
from chalicelib.storage.staging import iter_batches
from chalicelib.validate.judge import Judge
from chalicelib.validate.reasons import quarantine_line

MAX_SAMPLE_REASONS = 5


def validate(state: IngestState, services: Services) -> ValidatedState:
    """Split staged records into valid ones (staged) and invalid ones (quarantined).

    Returns
    -------
    ValidatedState
        The input with its outcome completed: counts, the quarantine location,
        the first reasons, and the verdict.  The run is ``REJECTED`` when nothing
        is valid or the invalid share exceeds the dataset's ``max_invalid_ratio``.
    """
    run = state["run"]
    dataset = services.datasets.get(run["dataset"])  # type: ignore[arg-type]
    source = s3_uri(run["source"]["bucket"], run["source"]["key"])
    fd, quarantine_path = tempfile.mkstemp(suffix=".jsonl")
    try:
        profiler = ProfileBuilder(source_fields(dataset), dataset.timestamp_field, dataset.key)
        with os.fdopen(fd, "w", encoding="utf-8") as quarantine:
            valid, invalid, samples = _split(run, dataset, source, services, quarantine, profiler)
        records_in = valid + invalid
        location = None
        if invalid:
            key = quarantine_key(run)
            services.objects.upload(quarantine_path, services.settings.processed_bucket, key, "application/x-ndjson")
            location = s3_uri(services.settings.processed_bucket, key)
    finally:
        os.unlink(quarantine_path)
    if records_in != state["outcome"]["records_in"]:
        raise IntegrityError(f"staged {state['outcome']['records_in']} records but validated {records_in}")
    assessment = assess(dataset.checks, profiler.build(run["started_at"]), _history(services, run))
    services.runs.record_validation(run, records_in=records_in, records_valid=valid, records_invalid=invalid, quarantine=location,
                                    quality=assessment.quality)
    reason = _rejection(dataset, valid, invalid, samples) or assessment.rejection
    if assessment.warnings and not reason:
        _alert(services, run, assessment.warnings)
    emit_metrics(dataset.name, {
        "RecordsIn": (records_in, COUNT), "RecordsValid": (valid, COUNT), "RecordsInvalid": (invalid, COUNT),
        "SourceBytes": (run["source"]["size"] or 0, BYTES), "RunsRejected": (int(reason is not None), COUNT),
        "ChecksBreached": (sum(check["breached"] for check in assessment.quality["checks"]), COUNT),
        "Anomalies": (len(assessment.quality["anomalies"]), COUNT),
        "QualityWarnings": (0 if reason else len(assessment.warnings), COUNT),  # what the quality alarm counts (infra/dashboard.py)
    })
    return ValidatedState(
        run=run,
        outcome=outcome(
            "REJECTED" if reason else "ACCEPTED",
            reason=reason,
            records_in=records_in,
            records_valid=valid,
            records_invalid=invalid,
            quarantine=location,
            reasons=samples,
        ),
    )


def _split(run: RunRef, dataset: Dataset, source: str, services: Services, quarantine: Any,
           profiler: ProfileBuilder) -> tuple[int, int, list[ReasonSample]]:
    valid = invalid = 0
    samples: list[ReasonSample] = []
    judge = Judge(dataset)
    with services.staging.reader(ingested_key(run)) as reader, \
            services.staging.writer(valid_key(run), judge.schema) as writer:
        for batch in iter_batches(reader):
            kept, rejected = judge.judge(batch)
            writer.write_batch(kept)
            profiler.add_valid(kept)
            valid += kept.num_rows
            invalid += len(rejected)
            for record in rejected:
                profiler.add_invalid(record.reasons)
                quarantine.write(quarantine_line(run_id=run["run_id"], source=source, record_number=record.record_number,
                                                 line=record.line, record=record.record, raw=record.raw,
                                                 reasons=record.reasons) + "\n")
                if len(samples) < MAX_SAMPLE_REASONS:
                    samples.append(ReasonSample(record_number=record.record_number, line=record.line, **record.reasons[0]))
    return valid, invalid, samples


def _history(services: Services, run: RunRef) -> list[QualityProfile]:
    """The quality of the dataset's last successful runs, newest first (the run table's dataset index)."""
    # the status index, filtered by dataset: a burst of the dataset's files in flight cannot crowd out its history
    page = services.runs.list(status=r.SUCCEEDED, dataset=run["dataset"], limit=HISTORY_RUNS + 1)
    earlier = [item[r.QUALITY] for item in page.runs if item.get(r.QUALITY) and item[r.RUN_ID] != run["run_id"]]
    return cast(list[QualityProfile], earlier[:HISTORY_RUNS])


def _alert(services: Services, run: RunRef, warnings: list[str]) -> None:
    """A breached ``warn`` check or an anomaly: the data is written, the run flagged (its quality), and people told."""
    services.notifier.publish(
        f"ETL run data quality warning: {run['run_id']}",
        {"status": "QUALITY_WARNING", "run_id": run["run_id"], "dataset": run["dataset"], "source": run["source"],
         "warnings": warnings, "hint": "the run's records were written; see quality on GET /runs/{run_id}"},
    )


def _rejection(dataset: Dataset, valid: int, invalid: int, samples: list[ReasonSample]) -> str | None:
    """Why the run is rejected, or ``None`` when it is accepted."""
    total = valid + invalid
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
