"""Timestamps as the pipeline stores and shows them: UTC, milliseconds, ``Z``."""
from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    return utc_timestamp(datetime.now(UTC))


def utc_timestamp(moment: datetime | str) -> str:
    """``2024-03-15T08:00:00.000Z``: one format, so timestamps sort as strings.

    Step Functions writes ``$$.Execution.StartTime`` as ``...Z`` on AWS and as
    ``...+00:00`` on moto; both become this.
    """
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {moment.isoformat()}")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
