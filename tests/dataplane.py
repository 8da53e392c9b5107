"""The four stages called directly, without the state machine, for tests of what a stage leaves behind."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.ingest import ingest
from chalicelib.output import output
from chalicelib.services import Services
from chalicelib.transform import transform
from chalicelib.validate import validate


def run_until_output(services: Services, execution_input: dict[str, Any], execution_id: str) -> dict[str, Any]:
    """Run ingest, validate and transform, stopping where the state machine would; Output is the caller's."""
    started = datetime.now(UTC).isoformat()
    state: dict[str, Any] = dict(ingest(execution_input, execution_id=execution_id, started_at=started, services=services))
    if state["outcome"]["verdict"] != "ACCEPTED":
        return state
    state = dict(validate(state, services))  # type: ignore[arg-type]
    if state["outcome"]["verdict"] != "ACCEPTED":
        return state
    return dict(transform(state, services))  # type: ignore[arg-type]


def run_stages(services: Services, execution_input: dict[str, Any], execution_id: str) -> dict[str, Any]:
    """Run ingest, validate, transform and output in order, stopping where the state machine would."""
    state = run_until_output(services, execution_input, execution_id)
    return dict(output(state, services)) if "transform" in state else state  # type: ignore[arg-type]
