"""The default chunk fits every function that runs once per chunk, and a 1 GB file every function that handles a whole file,
with the margins the project promises (memory, /tmp, half the timeout), in every stage."""
from __future__ import annotations

import pytest

from chalicelib.config import DEFAULT_CHUNK_MB, MAX_CHUNK_MB, Settings
from chalicelib.errors import ConfigurationError
from chalicelib.steps import CHUNK_STEPS, VALIDATE
from infra import limits

STAGES = ["dev", "prod"]


@pytest.mark.parametrize("stage", STAGES)
def test_the_default_chunk_is_the_one_the_measurements_and_the_configuration_give(stage):
    assert DEFAULT_CHUNK_MB == limits.default_chunk_mb(stage)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", [step.function for step in CHUNK_STEPS])
def test_the_default_chunk_fits_each_chunk_function(stage, function):
    assert limits.breaches(function, DEFAULT_CHUNK_MB, stage) == []


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", [step.function for step in CHUNK_STEPS])
def test_the_largest_chunk_a_run_may_ask_for_fits_each_chunk_function(stage, function):
    assert limits.breaches(function, MAX_CHUNK_MB, stage) == []


def test_a_stage_cannot_set_a_chunk_no_function_fits():
    with pytest.raises(ConfigurationError, match="CHUNK_MB: chunk_mb must be"):
        Settings.from_environment({"RAW_BUCKET": "r", "PROCESSED_BUCKET": "p", "RUNS_TABLE": "t", "CHUNK_MB": "500"})


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", limits.WHOLE_FILE_FUNCTIONS)
def test_a_1_gb_file_of_the_costliest_format_fits_each_function_that_handles_the_whole_file(stage, function):
    assert limits.breaches(function, limits.LARGEST_FILE_MB, stage) == []
    assert limits.largest_file_mb(stage) >= limits.LARGEST_FILE_MB


def test_every_pipeline_function_has_a_measured_cost():
    assert set(limits.MEASURED) == {step.function for step in CHUNK_STEPS} | set(limits.WHOLE_FILE_FUNCTIONS)


def test_a_chunk_too_big_for_a_function_is_named_with_what_it_breaks(monkeypatch):
    # GIVEN validate configured with less memory than a chunk's buffers need, and a short timeout
    monkeypatch.setattr(limits, "limits", lambda function, stage="prod": limits.Limits(memory_mb=256, timeout_seconds=60))
    # THEN the default chunk breaks its memory and its timeout, each named
    found = limits.breaches(VALIDATE.function, DEFAULT_CHUNK_MB)
    assert any("of memory, above 80% of 256 MB" in f for f in found) and any("timeout" in f for f in found)
    # AND /tmp, when the chunk outgrows it
    assert any("of /tmp, above its 512 MB" in f for f in limits.breaches(VALIDATE.function, 1024))
