"""The run record's view is what the API documents."""
from __future__ import annotations

import pytest

from chalicelib import run_record as r
from chalicelib.api.documents import validator


def full_item() -> dict:
    item: dict = {}
    for name, kind in r.RunItem.__annotations__.items():
        if "int" in str(kind):
            item[name] = 3
        elif "list" in str(kind):
            item[name] = ["m-2", "m-1"]
        elif name.endswith("_at"):
            item[name] = "2024-03-15T08:00:00+00:00"
        else:
            item[name] = "FAILED" if name == r.STATUS else f"{name}-value"
    return item


@pytest.mark.parametrize("item", [full_item(), {r.RUN_ID: "bare", r.STATUS: r.RUNNING}], ids=["every attribute", "a just-claimed run"])
def test_the_view_of_any_run_is_a_documented_run(item):
    view = r.run_view(item)
    errors = [error.message for error in validator("Run").iter_errors(view)]
    assert errors == []
    assert set(view) == set(validator("Run").schema["components"]["schemas"]["Run"]["required"])


def test_statuses():
    assert validator("Run").schema["components"]["schemas"]["Run"]["properties"]["status"]["enum"] == list(r.RUN_STATUSES)
    assert set(r.TERMINAL_STATUSES) < set(r.RUN_STATUSES) and r.REDRIVABLE_STATUS in r.TERMINAL_STATUSES
    assert r.run_view(full_item())["dlq_message_ids"] == ["m-1", "m-2"]
