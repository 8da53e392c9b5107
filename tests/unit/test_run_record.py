"""The run record's view is what the API documents."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from chalicelib import run_record as r
from chalicelib.api.documents import validator
from chalicelib.quality.assess import assess
from chalicelib.quality.checks import Check
from chalicelib.quality.profile import ProfileBuilder


def sample_quality() -> dict:
    builder = ProfileBuilder([pa.field("ts", pa.timestamp("us", tz="UTC")), pa.field("n", pa.int64())], "ts", "n")
    builder.add_valid(pa.record_batch({"ts": pa.array([datetime(2024, 3, 15, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
                                       "n": pa.array([1], pa.int64())}))
    builder.add_invalid([{"path": "$.n", "rule": "minimum", "message": "m"}])
    return dict(assess([Check("min_rows", 1, "warn")], builder.build("2024-03-16T00:00:00+00:00"), []).quality)


def full_item() -> dict:
    item: dict = {}
    for name, kind in r.RunItem.__annotations__.items():
        if name == r.QUALITY:
            item[name] = sample_quality()
        elif "list" in str(kind):
            item[name] = [3, 1] if "int" in str(kind) else ["m-2", "m-1"]
        elif "int" in str(kind):
            item[name] = 3
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


def test_the_dashboard_knows_the_statuses_the_record_has():
    # the page cannot import Python: hold its copies of the status lists to the record's
    script = (Path(r.__file__).parent / "api" / "static" / "dashboard.js").read_text()
    statuses = json.loads(re.search(r"const STATUSES = (\[.*?\]);", script).group(1))
    terminal = json.loads(re.search(r"const TERMINAL = new Set\((\[.*?\])\);", script).group(1))
    assert statuses == list(r.RUN_STATUSES) and set(terminal) == set(r.TERMINAL_STATUSES)
