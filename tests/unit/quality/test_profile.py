"""The quality profile, gathered batch by batch from typed columns."""
from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from chalicelib.quality.profile import ProfileBuilder

TS = pa.timestamp("us", tz="UTC")
FIELDS = [pa.field("id", pa.string()), pa.field("ts", TS), pa.field("amount", pa.float64()), pa.field("note", pa.string())]


def batch(ids, hours, amounts, notes) -> pa.RecordBatch:
    stamps = [None if h is None else datetime(2024, 3, 15, h, tzinfo=UTC) for h in hours]
    return pa.record_batch([pa.array(ids), pa.array(stamps, TS), pa.array(amounts, pa.float64()), pa.array(notes)],
                           schema=pa.schema(FIELDS))


def test_a_profile_over_several_batches():
    # GIVEN two batches with a key repeated across them, nulls, and two invalid records
    builder = ProfileBuilder(FIELDS, "ts", "id")
    builder.add_valid(batch(["a", "b", "c"], [8, 9, None], [1.0, None, 5.0], ["x", None, None]))
    builder.add_valid(batch(["c", "d", "d"], [10, 11, 7], [3.0, 3.0, 3.0], ["y", "y", "y"]))
    builder.add_invalid([{"path": "$.amount", "rule": "minimum", "message": "m"}, {"path": "$.x", "rule": "required", "message": "m"}])
    builder.add_invalid([{"path": "$.amount", "rule": "minimum", "message": "m"}])
    # WHEN it is built for a run that started at noon
    profile = builder.build("2024-03-15T12:00:00+00:00")
    # THEN every figure is the data's
    assert (profile["records"], profile["valid"], profile["invalid"]) == (8, 6, 2)
    assert profile["invalid_share"] == 0.25
    assert profile["top_rules"] == [{"rule": "minimum", "records": 2}, {"rule": "required", "records": 1}]
    assert profile["fields"]["amount"] == {"null_share": pytest.approx(1 / 6, abs=1e-6), "min": 1.0, "max": 5.0, "mean": 3.0}
    assert profile["fields"]["note"] == {"null_share": pytest.approx(2 / 6, abs=1e-6)}
    assert profile["fields"]["ts"]["min"] == "2024-03-15T07:00:00.000Z" and profile["fields"]["ts"]["max"] == "2024-03-15T11:00:00.000Z"
    assert profile["newest_event"] == "2024-03-15T11:00:00.000Z" and profile["freshness_seconds"] == 3600.0
    assert profile["key"] == "id" and profile["duplicate_share"] == pytest.approx(2 / 6, abs=1e-6)  # the second c and d


def test_the_profile_of_chunks_added_up_is_the_whole_runs():
    # GIVEN the two batches above as two chunks, each profiled on its own (the key "c" in both)
    first, second = ProfileBuilder(FIELDS, "ts", "id"), ProfileBuilder(FIELDS, "ts", "id")
    first.add_valid(batch(["a", "b", "c"], [8, 9, None], [1.0, None, 5.0], ["x", None, None]))
    second.add_valid(batch(["c", "d", "d"], [10, 11, 7], [3.0, 3.0, 3.0], ["y", "y", "y"]))
    second.add_invalid([{"path": "$.amount", "rule": "minimum", "message": "m"}])
    whole = ProfileBuilder(FIELDS, "ts", "id")
    for part in (batch(["a", "b", "c"], [8, 9, None], [1.0, None, 5.0], ["x", None, None]),
                 batch(["c", "d", "d"], [10, 11, 7], [3.0, 3.0, 3.0], ["y", "y", "y"])):
        whole.add_valid(part)
    whole.add_invalid([{"path": "$.amount", "rule": "minimum", "message": "m"}])
    # WHEN the verdict adds up their parts and distinct keys
    merged = ProfileBuilder.merged(FIELDS, "ts", "id", [first.part(), second.part()],
                                   [first.distinct_keys(), second.distinct_keys()])
    # THEN it is the profile of the run read in one piece: a key repeated across chunks is a duplicate
    assert merged.build("2024-03-15T12:00:00+00:00") == whole.build("2024-03-15T12:00:00+00:00")
    assert merged.build("2024-03-15T12:00:00+00:00")["duplicate_share"] == pytest.approx(2 / 6, abs=1e-6)


def test_a_run_without_valid_records_or_key():
    builder = ProfileBuilder(FIELDS, "ts", None)
    builder.add_invalid([{"path": "$", "rule": "parse", "message": "m"}])
    profile = builder.build("2024-03-15T12:00:00+00:00")
    assert profile["valid"] == 0 and profile["invalid_share"] == 1.0 and profile["duplicate_share"] is None
    assert profile["fields"]["amount"] == {"null_share": 0.0, "min": None, "max": None, "mean": None}
    assert profile["newest_event"] is None and profile["freshness_seconds"] is None


def test_figures_the_run_table_cannot_hold_are_left_out():
    # valid JSON numbers DynamoDB cannot store (and their infinite sum) cost the figure, never the run
    builder = ProfileBuilder(FIELDS, "ts", None)
    builder.add_valid(batch(["a", "b"], [8, 9], [1e308, 1e308], [None, None]))
    amount = builder.build("2024-03-15T12:00:00+00:00")["fields"]["amount"]
    assert amount == {"null_share": 0.0, "min": None, "max": None, "mean": None}
