"""A required property whose schema admits null is stored as null, not refused by the transform (issue 17)."""
from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pyarrow.parquet as pq

from bench.dataplane import run_stages
from chalicelib.datasets import DatasetRegistry
from chalicelib.datasets.columns import source_fields
from chalicelib.transform.partitions import NULL_PARTITION
from tests.conftest import put_raw

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:etl:nullable"
NULLABLE = {"type": "object", "required": ["timestamp", "n"], "properties": {
    "timestamp": {"type": ["string", "null"], "format": "date-time"},
    "n": {"type": ["integer", "null"]},
    "label": {"type": "string"},
}}


def test_a_column_is_nullable_unless_its_property_is_required_and_admits_no_null(tmp_path):
    schema = {**NULLABLE, "required": ["timestamp", "n", "label"]}
    (tmp_path / "readings.schema.json").write_text(json.dumps(schema))
    fields = source_fields(DatasetRegistry(tmp_path).get("readings"))
    assert {field.name: field.nullable for field in fields} == {"timestamp": True, "n": True, "label": False}


def test_a_null_timestamp_is_stored_in_the_null_partition_and_profiled(tmp_path, world, services):
    # GIVEN a dataset whose required timestamp may be null, as jsonschema allows
    (tmp_path / "readings.schema.json").write_text(json.dumps(NULLABLE))
    (tmp_path / "readings.transform.json").write_text(json.dumps(
        {"timestamp_field": "timestamp", "derived": [{"name": "reading_date", "kind": "date", "source": "timestamp"}]}))
    services = dataclasses.replace(services, datasets=DatasetRegistry(tmp_path))
    records = [{"timestamp": None, "n": None}, {"timestamp": "2024-03-15T08:15:00Z", "n": 1}]
    body = "".join(json.dumps(record) + "\n" for record in records).encode()
    # WHEN a file of them runs through the four stages
    state = run_stages(services, put_raw(world, "raw/readings/r.jsonl", body), EXECUTION)
    # THEN both are written, the null one under the partition Hive names for nulls
    assert state["output"]["records_written"] == 2
    listing = world.client("s3").list_objects_v2(Bucket=world.names.processed_bucket, Prefix="processed/readings/")
    keys = sorted(o["Key"] for o in listing["Contents"])
    assert [key.split("/")[2:6] for key in keys] == [
        ["year=2024", "month=03", "day=15", "hour=08"], [f"{p}={NULL_PARTITION}" for p in ("year", "month", "day", "hour")]]
    body = world.client("s3").get_object(Bucket=world.names.processed_bucket, Key=keys[1])["Body"].read()
    assert pq.read_table(pa.BufferReader(body)).select(["timestamp", "n", "reading_date"]).to_pylist() == [
        {"timestamp": None, "n": None, "reading_date": None}]
    # AND the run's profile counts the null and dates its freshness from the newest time
    quality = services.runs.get(state["run"]["run_id"])["quality"]
    assert quality["fields"]["timestamp"]["null_share"] == 0.5 and quality["newest_event"] == "2024-03-15T08:15:00.000Z"
