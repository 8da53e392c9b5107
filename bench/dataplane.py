"""The stages called directly, in the state machine's order but without it: the benchmark's data plane,
and the tests of what the stages leave behind."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from chalicelib.ingest import ingest
from chalicelib.output import output
from chalicelib.payloads import ChunkRef, ChunkTask, IngestState
from chalicelib.services import Services
from chalicelib.transform import transform
from chalicelib.validate import validate, verdict


def _process(services: Services, task: ChunkTask) -> None:
    transform(validate(task, services), services)


def run_until_output(services: Services, execution_input: dict[str, Any], execution_id: str, *,
                     threads: int = 1) -> dict[str, Any]:
    """Ingest, each chunk's validate and transform (``threads`` chunks at a time), the verdict; stop where the
    state machine would; Output is the caller's."""
    started = datetime.now(UTC).isoformat()
    state: IngestState = ingest(execution_input, execution_id=execution_id, started_at=started, services=services)
    if state["outcome"]["verdict"] != "ACCEPTED":
        return dict(state)
    plan = state["chunks"]
    chunks: list[ChunkRef] = services.objects.get_json(plan["bucket"], plan["key"]) or []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in [pool.submit(_process, services, ChunkTask(run=state["run"], chunk=chunk)) for chunk in chunks]:
            done.result()
    return dict(verdict(state, services))


def run_stages(services: Services, execution_input: dict[str, Any], execution_id: str, *, threads: int = 1) -> dict[str, Any]:
    """Every stage in order, stopping where the state machine would (a rejected file gets no Output)."""
    state = run_until_output(services, execution_input, execution_id, threads=threads)
    accepted = state["outcome"]["verdict"] == "ACCEPTED"
    return dict(output(state, services)) if accepted else state  # type: ignore[arg-type]
