from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from chalicelib.errors import IntegrityError
from chalicelib.output import output
from etl_local.dataplane import run_stages
from tests.conftest import put_raw

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:etl:o"


def record(i: int, hour: int) -> str:
    return json.dumps({"transaction_id": f"t{i}", "timestamp": f"2024-03-15T{hour:02d}:15:00Z", "user_id": "u",
                       "amount": 10 * i, "currency": "USD"})


def processed_keys(world) -> list[str]:
    listing = world.client("s3").list_objects_v2(Bucket=world.names.processed_bucket, Prefix="processed/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_output_writes_hourly_partitions_of_snappy_parquet(world, services, tmp_path):
    body = "\n".join([record(1, 8), record(2, 8), record(3, 9)]) + "\n"
    state = run_stages(services, put_raw(world, "raw/transactions/t.jsonl", body.encode()), EXECUTION)
    keys = processed_keys(world)
    assert [k.rsplit("/", 1)[0] for k in keys] == [
        "processed/transactions/year=2024/month=03/day=15/hour=08",
        "processed/transactions/year=2024/month=03/day=15/hour=09",
    ]
    assert state["output"] == {"records_written": 3, "files": 2, "partitions": 2,
                               "manifest": state["output"]["manifest"]}
    local = tmp_path / "f.parquet"
    world.client("s3").download_file(world.names.processed_bucket, keys[0], str(local))
    parquet = pq.ParquetFile(local)
    assert parquet.metadata.num_rows == 2
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert "year" not in parquet.schema_arrow.names  # partition values live in the path only


def test_rerun_of_the_same_key_overwrites_and_removes_stale_partitions(world, services):
    # GIVEN a first version spanning hours 08 and 09
    run_stages(services, put_raw(world, "raw/transactions/t.jsonl", (record(1, 8) + "\n" + record(2, 9) + "\n").encode()), EXECUTION)
    first = processed_keys(world)
    # WHEN a corrected version of the same key lands, spanning hours 09 and 10
    run_stages(services, put_raw(world, "raw/transactions/t.jsonl", (record(2, 9) + "\n" + record(3, 10) + "\n").encode()), EXECUTION + "2")
    second = processed_keys(world)
    # THEN the hour-09 file kept its name (overwritten), hour 08 is gone, nothing is duplicated
    assert len(first) == len(second) == 2
    assert first[1] == second[0] and "hour=09" in first[1]
    assert not any("hour=08" in key for key in second)
    assert any("hour=10" in key for key in second)


def test_other_sources_in_the_same_partition_are_untouched(world, services):
    run_stages(services, put_raw(world, "raw/transactions/a.jsonl", (record(1, 8) + "\n").encode()), EXECUTION)
    run_stages(services, put_raw(world, "raw/transactions/b.jsonl", (record(2, 8) + "\n").encode()), EXECUTION + "b")
    assert len(processed_keys(world)) == 2


def test_output_refuses_counts_that_do_not_add_up(world, services):
    state = run_stages(services, put_raw(world, "raw/transactions/t.jsonl", (record(1, 8) + "\n").encode()), EXECUTION)
    state["outcome"]["records_valid"] = 2
    with pytest.raises(IntegrityError, match="wrote 1 records but 2 were valid"):
        output(state, services)


def test_partition_values_print_as_strftime_does():
    from datetime import datetime, timezone

    import pyarrow as pa
    import pyarrow.compute as pc

    from chalicelib.output.stage import PARTITION_FIELDS, partition_values

    stamps = pa.array([datetime(5, 1, 2, 3, tzinfo=timezone.utc), datetime(2024, 12, 31, 23, 59, tzinfo=timezone.utc),
                       datetime(9999, 7, 4, 0, tzinfo=timezone.utc)], pa.timestamp("us", tz="UTC"))
    formats = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H"}
    for name in PARTITION_FIELDS:
        assert partition_values(stamps, name).to_pylist() == pc.strftime(stamps, format=formats[name]).to_pylist()
