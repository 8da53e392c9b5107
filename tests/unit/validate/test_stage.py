from __future__ import annotations

import json

from bench.dataplane import run_until_output
from tests.conftest import put_raw

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:etl:v"


def good(i: int) -> dict:
    return {"transaction_id": f"t{i}", "timestamp": "2024-01-01T00:00:00Z", "user_id": "u", "amount": i, "currency": "USD"}


def run_validate(world, services, lines: list[str], **chunking):
    """Ingest, each chunk's validate and transform, and the verdict on the file of ``lines``."""
    execution_input = put_raw(world, "raw/transactions/t.jsonl", ("\n".join(lines) + "\n").encode())
    return run_until_output(services, {**execution_input, **chunking}, EXECUTION)


def read_quarantine(world, uri: str) -> list[dict]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_partial_quarantine_is_accepted_and_every_invalid_record_is_kept_with_reasons(world, services):
    # GIVEN 19 valid records and one with a negative amount (5%, under the 10% limit)
    lines = [json.dumps(good(i)) for i in range(19)] + [json.dumps({**good(99), "amount": -3})]
    # WHEN validated
    state = run_validate(world, services, lines)
    outcome = state["outcome"]
    # THEN the run is accepted, counts add up, and the quarantine names file, line and rule
    assert outcome["verdict"] == "ACCEPTED" and outcome["reason"] is None
    assert (outcome["records_in"], outcome["records_valid"], outcome["records_invalid"]) == (20, 19, 1)
    [entry] = read_quarantine(world, outcome["quarantine"])
    assert entry["source"] == f"s3://{world.names.raw_bucket}/raw/transactions/t.jsonl"
    assert entry["line"] == 20 and entry["record"]["amount"] == -3
    assert entry["reasons"] == [{"path": "$.amount", "rule": "minimum", "message": "-3 is less than the minimum of 0"}]
    assert outcome["reasons"] == [{"record_number": 20, "line": 20, **entry["reasons"][0]}]
    # AND the run record carries the counts and the quarantine location
    item = services.runs.get(state["run"]["run_id"])
    assert (item["records_in"], item["records_valid"], item["records_invalid"]) == (20, 19, 1)
    assert item["quarantine"] == outcome["quarantine"]


def test_too_many_invalid_records_reject_the_run(world, services):
    lines = [json.dumps(good(i)) for i in range(8)] + ["{oops", json.dumps({"transaction_id": "x"})]
    outcome = run_validate(world, services, lines)["outcome"]
    assert outcome["verdict"] == "REJECTED"
    assert outcome["reason"].startswith("2 of 10 records are invalid (20.0%), above the dataset's limit of 10%; first: line 9: $: parse")
    entries = read_quarantine(world, outcome["quarantine"])
    assert [e["line"] for e in entries] == [9, 10]
    assert entries[0]["raw"] == "{oops" and entries[0]["record"] is None


def test_nothing_valid_rejects_even_a_single_record(world, services):
    outcome = run_validate(world, services, [json.dumps({"amount": -1})])["outcome"]
    assert outcome["verdict"] == "REJECTED" and outcome["reason"].startswith("none of the 1 records is valid")


def test_all_valid_has_no_quarantine(world, services):
    outcome = run_validate(world, services, [json.dumps(good(1))])["outcome"]
    assert outcome["verdict"] == "ACCEPTED" and outcome["quarantine"] is None and outcome["records_invalid"] == 0


def test_schema_valid_timestamp_a_parquet_column_cannot_hold_is_quarantined(world, services):
    # GIVEN a date-time JSON Schema accepts that lies past year 9999 once in UTC
    lines = [json.dumps(good(i)) for i in range(19)] + [json.dumps({**good(99), "timestamp": "9999-12-31T23:00:00-05:00"})]
    # WHEN validated
    outcome = run_validate(world, services, lines)["outcome"]
    # THEN it is one quarantined record with a storage reason, not a failed Transform later
    assert (outcome["verdict"], outcome["records_valid"], outcome["records_invalid"]) == ("ACCEPTED", 19, 1)
    [entry] = read_quarantine(world, outcome["quarantine"])
    [reason] = entry["reasons"]
    assert (reason["path"], reason["rule"]) == ("$.timestamp", "storage")
    assert "outside years 1 to 9999 in UTC" in reason["message"]
