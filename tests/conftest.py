"""Shared fixtures: a local AWS (moto, in-process) with the pipeline's resources."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import DEFAULT_SCHEMAS_DIR
from chalicelib.datasets import DatasetRegistry
from chalicelib.services import Services
from etl_local.emulation.world import LocalAws

EVENTS = Path(__file__).parent / "events"
SAMPLES = Path(__file__).parent.parent / "samples"


def chunk_visit(states: list[dict[str, Any]], name: str, chunk: int = 0) -> dict[str, Any]:
    """State ``name`` of one chunk's run through the Map that processes the chunks, from a run's timeline."""
    [run] = [c for state in states for c in state.get("chunks", []) if c["index"] == chunk]
    return next(state for state in run["states"] if state["name"] == name)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def registry() -> DatasetRegistry:
    return DatasetRegistry(DEFAULT_SCHEMAS_DIR)


@pytest.fixture
def world() -> Iterator[LocalAws]:
    """Buckets, run table, dead-letter queue, topic, functions and state machine on moto."""
    with LocalAws() as local:
        yield local


@pytest.fixture
def services(world: LocalAws) -> Services:
    return world.services()


def put_raw(world: LocalAws, key: str, body: bytes) -> dict[str, Any]:
    """Upload to the raw bucket; return the execution input naming that object version."""
    response = world.client("s3").put_object(Bucket=world.names.raw_bucket, Key=key, Body=body)
    return {"bucket": world.names.raw_bucket, "key": key, "version": response.get("VersionId")}
