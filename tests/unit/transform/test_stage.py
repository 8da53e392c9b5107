from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import rfc8785

from chalicelib.datasets.columns import output_schema, valid_schema
from chalicelib.sources.formats import ParsedRecord
from chalicelib.sources.staged import ingested_schema, parse_types, parsed_batch
from chalicelib.transform.stage import transform_batch
from chalicelib.validate.judge import Judge
from chalicelib.validate.stage import valid_rows

RUN = {
    "run_id": "t-0123", "execution_id": "arn:x", "dataset": "transactions", "started_at": "2024-01-01T00:00:00Z",
    "staging_prefix": "staging/t-0123/",
    "source": {"bucket": "raw", "key": "raw/transactions/t.jsonl", "version": "v1", "etag": "e", "size": 10},
}
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def staged_valid(dataset, records: list[dict]) -> pa.RecordBatch:
    """What validate stages for ``records``, all of them valid."""
    staged = parsed_batch([ParsedRecord(n, n, value=r) for n, r in enumerate(records, 1)],
                          ingested_schema(parse_types(dataset)))
    kept, rejected = Judge(dataset).judge(staged)
    assert not rejected
    return valid_rows(kept, valid_schema(dataset))


def test_transform_batch_types_derives_and_enriches(registry):
    dataset = registry.get("transactions")
    schema = output_schema(dataset)
    records = [
        {"transaction_id": "t1", "timestamp": "2024-03-15T23:30:00-02:00", "user_id": "u", "amount": 2500, "currency": "EUR"},
        {"transaction_id": "t2", "timestamp": "2024-03-15T08:00:00Z", "user_id": "u", "amount": 5.5, "currency": "USD", "merchant": "M"},
    ]
    canonical = [rfc8785.dumps(r).decode() for r in records]
    table = transform_batch(dataset, schema, staged_valid(dataset, records), RUN, NOW)
    assert table.schema == schema
    rows = table.to_pylist()
    assert rows[0]["timestamp"] == datetime(2024, 3, 16, 1, 30, tzinfo=UTC)
    assert rows[0]["transaction_date"] == date(2024, 3, 16)  # the UTC date, not the local one
    assert (rows[0]["amount_category"], rows[0]["is_high_value"], rows[0]["merchant"]) == ("large", True, None)
    assert (rows[1]["amount_category"], rows[1]["is_high_value"], rows[1]["amount"]) == ("micro", False, 5.5)
    assert rows[1]["record_id"] == hashlib.sha256(canonical[1].encode()).hexdigest()
    assert {(r["source_bucket"], r["source_key"], r["source_version"], r["run_id"], r["processed_at"]) for r in rows} == {
        ("raw", "raw/transactions/t.jsonl", "v1", "t-0123", NOW)}


def test_output_schema_order_and_types(registry):
    schema = output_schema(registry.get("metrics"))
    assert schema.names == ["timestamp", "metric_name", "value", "unit", "metric_date", "value_range", "is_anomaly",
                            "record_id", "processed_at", "source_bucket", "source_key", "source_version", "run_id"]
    assert schema.field("timestamp").type == pa.timestamp("us", tz="UTC") and not schema.field("timestamp").nullable
    assert schema.field("unit").nullable and schema.field("metric_date").type == pa.date32()


def test_objects_and_arrays_in_records(registry):
    from chalicelib.datasets import Dataset

    dataset = Dataset("nested", {
        "type": "object", "required": ["timestamp"],
        "properties": {"timestamp": {"type": "string", "format": "date-time"}, "tags": {"type": "array", "items": {"type": "string"}},
                       "meta": {"type": "object"}, "count": {"type": "integer"}},
    }, {"timestamp_field": "timestamp"})
    schema = output_schema(dataset)
    record = {"timestamp": "2024-01-01T00:00:00Z", "tags": ["a", "b"], "meta": {"k": [1]}, "count": 3}
    [row] = transform_batch(dataset, schema, staged_valid(dataset, [record]), RUN, NOW).to_pylist()
    assert row["tags"] == ["a", "b"] and json.loads(row["meta"]) == {"k": [1]} and row["count"] == 3
