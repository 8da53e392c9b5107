"""Unit tests run on plain moto resources (:class:`tests.unit.fakes.PlainAws`), never the full emulation.

The ``world`` fixture shadows the top-level one (and so the ``services`` built from it):
a stage under test gets buckets, the run table, the queue and the topic, but no state machine.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.fakes import PlainAws


@pytest.fixture
def world() -> Iterator[PlainAws]:
    with PlainAws() as aws:
        yield aws
