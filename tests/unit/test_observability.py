"""Handlers flush their EMF metrics when metrics are on, and say nothing when they are off (issue 15)."""
from __future__ import annotations

import json
import warnings

import pytest

from chalicelib.observability import COUNT, emit_metrics, flushing_metrics, metrics

NOTHING_TO_PUBLISH = "No application metrics to publish"


@flushing_metrics
def handler(emit: bool) -> str:
    if emit:
        emit_metrics("transactions", {"RecordsIn": (3, COUNT)})
    return "done"


def run(emit: bool) -> list[str]:
    """The handler's return value checked; the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert handler(emit) == "done"
    return [str(w.message) for w in caught]


@pytest.fixture(autouse=True)
def no_metrics_left():
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def test_metrics_switched_off_are_not_flushed_so_nothing_warns(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    assert run(emit=True) == [] and run(emit=False) == []
    assert capsys.readouterr().out == ""


def test_metrics_switched_on_are_printed_as_emf_when_the_handler_returns(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    assert run(emit=True) == []
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["RecordsIn"] == [3.0] and metrics.metric_set == {}


def test_a_handler_that_emits_nothing_with_metrics_on_still_warns(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    assert any(NOTHING_TO_PUBLISH in message for message in run(emit=False))


def test_metrics_are_flushed_when_the_handler_raises(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    @flushing_metrics
    def failing() -> None:
        emit_metrics("transactions", {"RecordsIn": (1, COUNT)})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing()
    assert json.loads(capsys.readouterr().out)["RecordsIn"] == [1.0]
