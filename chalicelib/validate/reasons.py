"""Turning validation failures into reasons: path, rule, message."""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import storable_value
from chalicelib.payloads import Reason

MAX_REASONS_PER_RECORD = 10
MAX_MESSAGE_CHARS = 300


def _reason(path: str, rule: str, message: str) -> Reason:
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return Reason(path=path, rule=rule, message=message)


def parse_failure(error: str) -> Reason:
    """The reason for a record that could not be decoded or parsed."""
    return _reason("$", "parse", error)


def schema_failures(validator: Draft202012Validator, record: Any) -> list[Reason]:
    """All of ``jsonschema``'s errors for ``record``, most specific path first; empty when valid.

    When ``jsonschema`` cannot finish (its references recurse past Python's recursion
    limit: a cycle of references that never descends into the value, or many per level
    of a deep one), the record is invalid with rule ``recursion``: the run goes on.
    """
    try:
        errors: list[ValidationError] = sorted(
            validator.iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), str(e.validator))
        )
    except RecursionError:
        return [_reason("$", "recursion", "the schema's references recurse past Python's recursion limit on this record")]
    return [_reason(e.json_path, str(e.validator), e.message) for e in errors[:MAX_REASONS_PER_RECORD]]


def storage_failures(dataset: Dataset, fields: list[pa.Field], record: dict[str, Any]) -> list[Reason]:
    """Why a schema-valid ``record`` cannot be stored in the dataset's columns; empty when it can.

    JSON Schema allows what Parquet cannot hold (a date-time past year 9999 in
    UTC, an integer beyond 64 bits), so such records are quarantined here
    instead of failing the run in Transform.
    """
    reasons = []
    for field in fields:
        value = record.get(field.name)
        try:
            pa.scalar(storable_value(field, dataset.json_text[field.name], value), field.type)
        except (ValueError, OverflowError, pa.ArrowException) as error:
            reasons.append(_reason(f"$.{field.name}", "storage", f"{value!r} does not fit a {field.type} column: {error}"))
    return reasons


def record_failures(dataset: Dataset, fields: list[pa.Field], record: Any,
                    validator: Draft202012Validator | None = None) -> list[Reason]:
    """Schema failures, or, for a schema-valid record, storage failures; empty when valid.

    ``fields`` is ``source_fields(dataset)``, computed once per run by the caller;
    ``validator`` is the dataset's, or one that finds the same errors in ``record``
    (see :meth:`chalicelib.validate.judge.Judge`).
    """
    return schema_failures(validator or dataset.validator, record) or storage_failures(dataset, fields, record)


def quarantine_line(
    *,
    run_id: str,
    source: str,
    record_number: int,
    line: int | None,
    record: Any,
    raw: str | None,
    reasons: list[Reason],
) -> str:
    """One JSON line of the quarantine file: the record, where it came from, and why."""
    return json.dumps(
        {
            "run_id": run_id,
            "source": source,
            "record_number": record_number,
            "line": line,
            "record": record,
            "raw": raw,
            "reasons": reasons,
        },
        ensure_ascii=False,
    )
