"""Turning validation failures into reasons: path, rule, message."""
from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

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
    """All of ``jsonschema``'s errors for ``record``, most specific path first; empty when valid."""
    errors: list[ValidationError] = sorted(
        validator.iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), str(e.validator))
    )
    return [_reason(e.json_path, str(e.validator), e.message) for e in errors[:MAX_REASONS_PER_RECORD]]


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
