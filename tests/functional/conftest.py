"""Fixtures of the functional tests: the API on a fresh local AWS, with faults where asked."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from chalice.test import Client

import app
from etl_local.emulation.faults import Fault
from etl_local.emulation.world import LocalAws
from tests.functional.api_client import Api


@pytest.fixture
def api_factory() -> Iterator[Callable[..., Api]]:
    with_world = []

    def make(faults: list[Fault] | None = None) -> Api:
        world = LocalAws(faults=faults).__enter__()
        client = Client(app.app, stage_name="local").__enter__()
        with_world.append((world, client))
        return Api(world, client)

    yield make
    for world, client in reversed(with_world):
        client.__exit__(None, None, None)
        world.__exit__(None, None, None)


@pytest.fixture
def api(api_factory: Callable[..., Api]) -> Api:
    return api_factory()
