"""Unit tests run on plain moto resources (:class:`tests.unit.fakes.PlainAws`), never the full emulation.

The ``world`` and ``services`` fixtures shadow the top-level ones: a stage under test
gets buckets, the run table, the queue and the topic, but no state machine.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.services import Services
from tests.unit.fakes import PlainAws


@pytest.fixture
def world() -> Iterator[PlainAws]:
    with PlainAws() as aws:
        yield aws


@pytest.fixture
def services(world: PlainAws) -> Services:
    return world.services()
