"""Two versions of one key through the state machine: the newer one's data wins whichever run ends last (issue 13 #1)."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chalicelib.identity import run_id_for
from chalicelib.storage.runs import RunStore
from etl_local.emulation.world import LocalAws

KEY = "raw/transactions/x.jsonl"


def record(i: int) -> str:
    return json.dumps({"transaction_id": f"t{i}", "timestamp": f"2024-03-15T{8 + i % 4:02d}:15:00Z", "user_id": "u",
                       "amount": i, "currency": "USD"})


def processed_ids(world: LocalAws) -> list[str]:
    s3 = world.client("s3")
    listing = s3.list_objects_v2(Bucket=world.names.processed_bucket, Prefix="processed/").get("Contents", [])
    ids: list[str] = []
    for item in listing:
        body = s3.get_object(Bucket=world.names.processed_bucket, Key=item["Key"])["Body"].read()
        ids += pq.read_table(pa.BufferReader(body)).column("transaction_id").to_pylist()
    return sorted(ids)


def run(world: LocalAws, version: str) -> dict:
    run_id = run_id_for(world.names.raw_bucket, KEY, version)
    world.wait(world.start_execution(run_id, {"bucket": world.names.raw_bucket, "key": KEY, "version": version}))
    return RunStore(world.client("dynamodb"), world.names.runs_table).get(run_id) or {}


@pytest.mark.parametrize("newer_first", [True, False], ids=["newer run ends first", "older run ends first"])
def test_the_newer_version_of_a_key_wins_whichever_run_ends_last(newer_first):
    with LocalAws() as world:
        # GIVEN a 40-record version of a key and, at once, a 5-record version
        s3 = world.client("s3")
        old = s3.put_object(Bucket=world.names.raw_bucket, Key=KEY, Body="".join(record(i) + "\n" for i in range(40)).encode())
        new = s3.put_object(Bucket=world.names.raw_bucket, Key=KEY, Body="".join(record(i) + "\n" for i in range(100, 105)).encode())
        # WHEN their runs end in either order
        order = [new["VersionId"], old["VersionId"]] if newer_first else [old["VersionId"], new["VersionId"]]
        runs = {version: run(world, version) for version in order}
        # THEN processed/ holds the newer version's records only
        assert processed_ids(world) == [f"t{i}" for i in range(100, 105)]
        assert runs[new["VersionId"]]["status"] == "SUCCEEDED" and runs[new["VersionId"]]["records_written"] == 5
        stale = RunStore(world.client("dynamodb"), world.names.runs_table).get(runs[old["VersionId"]]["run_id"]) or {}
        if newer_first:  # the late older run removed what it wrote, and says so
            assert stale["status"] == "SUPERSEDED" and stale["records_written"] == 0 and "newer version" in stale["reason"]
        else:  # it had published first; the newer run replaced its files and says so on it
            assert stale["status"] == "SUPERSEDED" and "replaced its files" in stale["reason"]
