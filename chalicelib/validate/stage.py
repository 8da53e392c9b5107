"""The validate stage."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import pyarrow as pa

from chalicelib.datasets import Dataset
from chalicelib.errors import IntegrityError
from chalicelib.outcomes import outcome
from chalicelib.payloads import IngestState, ReasonSample, RunRef, ValidatedState
from chalicelib.services import Services
from chalicelib.staging_keys import ingested_key, quarantine_key, valid_key
from chalicelib.storage.objects import s3_uri
from chalicelib.storage.staging import iter_batches
from chalicelib.transform.columns import source_fields
from chalicelib.validate.reasons import parse_failure, quarantine_line, record_failures

MAX_SAMPLE_REASONS = 5
VALID_SCHEMA = pa.schema(
    [
        pa.field("record_number", pa.int64(), nullable=False),
        pa.field("line", pa.int64()),
        pa.field("record", pa.string(), nullable=False),
    ]
)


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
        with os.fdopen(fd, "w", encoding="utf-8") as quarantine:
            valid, invalid, samples = _split(run, dataset, source, services, quarantine)
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
    services.runs.update(
        run["run_id"],
        {"records_in": records_in, "records_valid": valid, "records_invalid": invalid, "quarantine": location},
        owner=run["execution_id"],
    )
    reason = _rejection(dataset, valid, invalid, samples)
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


def _split(run: RunRef, dataset: Dataset, source: str, services: Services, quarantine: Any) -> tuple[int, int, list[ReasonSample]]:
    valid = invalid = 0
    samples: list[ReasonSample] = []
    fields = source_fields(dataset)
    with services.staging.reader(ingested_key(run)) as reader, \
            services.staging.writer(valid_key(run), VALID_SCHEMA) as writer:
        for batch in iter_batches(reader):
            keep: list[int] = []
            rows = batch.to_pydict()
            for index, (number, line, text, raw, error) in enumerate(
                zip(rows["record_number"], rows["line"], rows["record"], rows["raw"], rows["error"])
            ):
                value = None if text is None else json.loads(text)
                reasons = [parse_failure(error)] if error is not None else record_failures(dataset, fields, value)
                if not reasons:
                    keep.append(index)
                    continue
                invalid += 1
                quarantine.write(quarantine_line(run_id=run["run_id"], source=source, record_number=number,
                                                 line=line, record=value, raw=raw, reasons=reasons) + "\n")
                if len(samples) < MAX_SAMPLE_REASONS:
                    samples.append(ReasonSample(record_number=number, line=line, **reasons[0]))
            valid += len(keep)
            writer.write_batch(batch.select(VALID_SCHEMA.names).take(pa.array(keep, pa.int64())).cast(VALID_SCHEMA))
    return valid, invalid, samples


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
