"""A file processed in many chunks ends as it does in one: counts, rows, record ids, partitions, quarantine, quality."""
from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.dataplane import run_stages
from tests.conftest import SAMPLES, put_raw

TINY_MB = 600 / (1 << 20)  # about 600 bytes of source a chunk: the samples make several chunks
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:etl:"
SOURCE_COLUMNS = ["source_key", "source_version", "run_id", "processed_at"]  # differ between two runs of two keys


def json_lines() -> bytes:
    """The transactions sample with what a reader must number right: a byte-order mark, blank and CRLF lines,
    a malformed line, invalid records, a member the schema does not know."""
    lines = (SAMPLES / "transactions.jsonl").read_bytes().splitlines()
    lines[3] += b"\r"
    lines[5:5] = [b"", b"{oops", b"  "]
    lines[12] = lines[12][:-1] + b', "unknown": 1}'
    return b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n"


def json_array() -> bytes:
    records = [json.loads(line) for line in (SAMPLES / "transactions.jsonl").read_text().splitlines()]
    records.insert(4, {"transaction_id": "bad", "amount": -1})
    return json.dumps(records, indent=2).encode()


CASES = {
    "json lines": ("t.jsonl", json_lines),
    "csv with quoted newlines": ("t.csv", lambda: (SAMPLES / "transactions_with_errors.csv").read_bytes()),
    "gzip json lines": ("t.jsonl.gz", lambda: gzip.compress(json_lines())),
    "gzip csv": ("t.csv.gz", lambda: gzip.compress((SAMPLES / "transactions_with_errors.csv").read_bytes())),
    "json array": ("t.json", json_array),
}


def written(world, state) -> pa.Table:
    """The rows the run published, each with its partition, sorted by record id (the columns naming the run left out)."""
    bucket, key = state["output"]["manifest"].removeprefix("s3://").split("/", 1)
    manifest = json.loads(world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    tables = []
    for file in manifest["files"]:
        table = pq.read_table(pa.BufferReader(world.client("s3").get_object(Bucket=bucket, Key=file)["Body"].read()))
        partition = "/".join(file.split("/")[2:6])  # processed/<dataset>/year=/month=/day=/hour=/<file>
        tables.append(table.append_column("partition", pa.array([partition] * table.num_rows)))
    return pa.concat_tables(tables).drop_columns(SOURCE_COLUMNS).sort_by("record_id")


def quarantined(world, state) -> list[dict]:
    if not state["outcome"]["quarantine"]:
        return []
    bucket, key = state["outcome"]["quarantine"].removeprefix("s3://").split("/", 1)
    lines = world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in ("run_id", "source")} for line in lines]


def profile(services, state) -> dict:
    quality = services.runs.get(state["run"]["run_id"])["quality"]
    return {k: v for k, v in quality.items() if k not in ("freshness_seconds", "anomalies")}


@pytest.mark.parametrize("case", CASES)
def test_a_file_in_many_chunks_ends_as_in_one(world, services, case):
    # GIVEN the same file under two keys
    name, content = CASES[case]
    data = content()
    # WHEN one run reads it in one chunk and another in chunks of about 600 bytes
    whole = run_stages(services, {**put_raw(world, f"raw/transactions/whole-{name}", data), "chunk_mb": 64}, EXECUTION + "w")
    chunked = run_stages(services, {**put_raw(world, f"raw/transactions/chunked-{name}", data), "chunk_mb": TINY_MB},
                         EXECUTION + "c")
    # THEN the second was cut into several chunks
    assert whole["chunks"]["count"] == 1 and chunked["chunks"]["count"] > 2
    # AND both came to the same counts, first reasons, rows, record ids, partitions, quarantine and quality
    for key in ("verdict", "records_in", "records_valid", "records_invalid", "reasons", "warnings"):
        assert chunked["outcome"][key] == whole["outcome"][key], key
    assert whole["outcome"]["records_invalid"] > 0
    assert written(world, chunked).equals(written(world, whole))
    assert quarantined(world, chunked) == quarantined(world, whole)
    assert profile(services, chunked) == profile(services, whole)
