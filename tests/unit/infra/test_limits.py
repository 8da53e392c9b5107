"""The default chunk fits every function that runs once per chunk, with the margins the project promises."""
from __future__ import annotations

import pytest

from chalicelib.config import DEFAULT_CHUNK_MB
from chalicelib.steps import CHUNK_STEPS, VALIDATE
from infra import limits


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_default_chunk_is_the_one_the_measurements_and_the_configuration_give(stage):
    assert DEFAULT_CHUNK_MB == limits.default_chunk_mb(stage)


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("function", [step.function for step in CHUNK_STEPS])
def test_the_default_chunk_fits_each_chunk_function(stage, function):
    assert limits.breaches(function, DEFAULT_CHUNK_MB, stage) == []
    assert limits.largest_chunk_mb(function, stage) >= limits.DEFAULT_MARGIN * DEFAULT_CHUNK_MB


def test_a_chunk_too_big_for_a_function_is_named_with_what_it_breaks(monkeypatch):
    # GIVEN validate configured with less memory than a chunk's buffers need
    monkeypatch.setattr(limits, "limits", lambda function, stage="prod": limits.Limits(memory_mb=256, timeout_seconds=10))
    # THEN the default chunk breaks its memory and its timeout
    found = limits.breaches(VALIDATE.function, DEFAULT_CHUNK_MB)
    assert any("of memory, above 80% of 256 MB" in f for f in found) and any("timeout" in f for f in found)
