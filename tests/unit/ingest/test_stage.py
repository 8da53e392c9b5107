from __future__ import annotations

import gzip
import hashlib

import pyarrow as pa

from bench.dataplane import run_until_output
from chalicelib.ingest import ingest, plan
from chalicelib.keys import valid_key
from chalicelib.payloads import ChunkTask
from chalicelib.sources.chunks import read_chunk
from chalicelib.storage.staging import iter_batches
from chalicelib.validate import validate
from tests.conftest import put_raw

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:etl:one"
STARTED = "2024-03-15T10:00:00Z"


def chunks(services, state) -> list[dict]:
    return services.objects.get_json(state["chunks"]["bucket"], state["chunks"]["key"])


def read(services, state) -> pa.Table:
    """What the chunks of ``state``'s plan read, as staged rows."""
    dataset = services.datasets.get(state["run"]["dataset"])
    batches = []
    for chunk in chunks(services, state):
        with read_chunk(chunk, dataset, services.objects, services.staging) as reading:
            batches += list(reading.batches)
    return pa.Table.from_batches(batches)


def test_ingest_claims_the_run_and_plans_its_chunks(world, services):
    # GIVEN a gzip JSON Lines file under raw/transactions/
    body = gzip.compress(b'{"b": 2, "a": 1.0}\n{"amount": 1e2}\n')
    execution_input = put_raw(world, "raw/transactions/2024/day one.jsonl.gz", body)
    # WHEN ingest runs
    result = ingest(execution_input, execution_id=EXECUTION, started_at=STARTED, services=services)
    # THEN the run is named after the object version and recorded as RUNNING
    run = result["run"]
    assert run["dataset"] == "transactions"
    assert run["run_id"].startswith("day-one-") and len(run["run_id"]) <= 80
    assert run["source"]["version"] == execution_input["version"]
    assert result["outcome"]["verdict"] == "ACCEPTED" and result["chunks"]["count"] == 1
    item = services.runs.get(run["run_id"])
    assert item["status"] == "RUNNING" and item["execution_arn"] == EXECUTION
    # AND the gzip text went into one part the Map reads (a gzip file cannot be read by range)
    [chunk] = chunks(services, result)
    assert (chunk["format"], chunk["compression"], chunk["bucket"]) == ("jsonl", "zstd", world.names.processed_bucket)
    # AND its records read as RFC 8785 text (sorted keys, 1.0 -> 1, 1e2 -> 100)
    assert read(services, result).column("record").to_pylist() == ['{"a":1,"b":2}', '{"amount":100}']


def test_validate_stages_each_valid_record_with_its_id(world, services, registry):
    # GIVEN a valid transaction, written with its members out of order
    line = b'{"user_id": "u", "transaction_id": "t1", "amount": 1.0, "currency": "EUR", "timestamp": "2024-03-15T08:00:00Z"}\n'
    state = ingest(put_raw(world, "raw/transactions/t.jsonl", line), execution_id=EXECUTION, started_at=STARTED, services=services)
    # WHEN its chunk is validated
    [chunk] = chunks(services, state)
    validate(ChunkTask(run=state["run"], chunk=chunk), services)
    # THEN its id is the SHA-256 of its RFC 8785 text
    with services.staging.reader(valid_key(state["run"], 0)) as reader:
        ids = pa.Table.from_batches(list(iter_batches(reader)), schema=reader.schema).column("record_id").to_pylist()
    canonical = b'{"amount":1,"currency":"EUR","timestamp":"2024-03-15T08:00:00Z","transaction_id":"t1","user_id":"u"}'
    assert ids == [hashlib.sha256(canonical).hexdigest()]


def test_same_object_version_never_makes_two_runs(world, services):
    execution_input = put_raw(world, "raw/transactions/t.jsonl", b'{"a": 1}\n')
    first = ingest(execution_input, execution_id=EXECUTION, started_at=STARTED, services=services)
    # a retry of the owning execution is not a duplicate
    again = ingest(execution_input, execution_id=EXECUTION, started_at=STARTED, services=services)
    # a second execution for the same version is
    duplicate = ingest(execution_input, execution_id=EXECUTION + "-dup", started_at=STARTED, services=services)
    assert first["outcome"]["verdict"] == again["outcome"]["verdict"] == "ACCEPTED"
    assert duplicate["outcome"]["verdict"] == "DUPLICATE"
    assert duplicate["run"]["run_id"] == first["run"]["run_id"]
    assert services.runs.get(first["run"]["run_id"])["execution_arn"] == EXECUTION


def test_a_new_version_of_the_same_key_is_a_new_run(world, services):
    first = ingest(put_raw(world, "raw/transactions/t.jsonl", b'{"a": 1}\n'), execution_id=EXECUTION, started_at=STARTED, services=services)
    second = ingest(put_raw(world, "raw/transactions/t.jsonl", b'{"a": 2}\n'), execution_id=EXECUTION + "2", started_at=STARTED, services=services)
    assert first["run"]["run_id"] != second["run"]["run_id"]
    assert second["outcome"]["verdict"] == "ACCEPTED"


def test_eventbridge_object_created_event_is_accepted_as_input(world, services):
    version = put_raw(world, "raw/metrics/m.jsonl", b'{"a": 1}\n')["version"]
    event = {
        "version": "0", "detail-type": "Object Created", "source": "aws.s3",
        "detail": {"bucket": {"name": world.names.raw_bucket},
                   "object": {"key": "raw/metrics/m.jsonl", "version-id": version, "size": 9}},
    }
    result = ingest(event, execution_id=EXECUTION, started_at=STARTED, services=services)
    assert result["run"]["dataset"] == "metrics" and result["run"]["source"]["version"] == version


def test_input_dataset_overrides_the_key(world, services):
    execution_input = {**put_raw(world, "raw/inbox/m.jsonl", b'{"a": 1}\n'), "dataset": "metrics"}
    result = ingest(execution_input, execution_id=EXECUTION, started_at=STARTED, services=services)
    assert result["run"]["dataset"] == "metrics" and result["outcome"]["verdict"] == "ACCEPTED"


def rejected_reason(world, services, key: str, body: bytes) -> str:
    """Why the run of ``body`` is rejected: at ingest when the file as a whole is unusable, else at the verdict."""
    result = run_until_output(services, put_raw(world, key, body), EXECUTION)
    assert result["outcome"]["verdict"] == "REJECTED"
    assert result["outcome"]["records_in"] == result["outcome"]["records_valid"] + result["outcome"]["records_invalid"] == 0
    return result["outcome"]["reason"]


def test_unknown_dataset_is_rejected_with_the_known_ones(world, services):
    reason = rejected_reason(world, services, "raw/orders/o.csv", b"a\n1\n")
    assert reason.startswith("UnknownDatasetError: s3://serverless-etl-local-raw/raw/orders/o.csv: unknown dataset 'orders'")
    assert "known: metrics, transactions, user_actions" in reason


def test_key_outside_raw_without_dataset_is_rejected(world, services):
    reason = rejected_reason(world, services, "drop/o.csv", b"a\n1\n")
    assert "cannot tell the dataset" in reason


def test_empty_file_and_header_only_csv_are_rejected(world, services):
    assert "EmptySourceError" in rejected_reason(world, services, "raw/transactions/empty.jsonl", b"")
    assert "the file holds no records" in rejected_reason(world, services, "raw/transactions/h.csv", b"transaction_id,amount\n")


def test_corrupt_gzip_is_rejected_naming_the_file(world, services):
    data = gzip.compress(b'{"a": 1}\n' * 1000)
    reason = rejected_reason(world, services, "raw/transactions/t.jsonl.gz", data[:40])
    assert reason.startswith("UnreadableSourceError: s3://serverless-etl-local-raw/raw/transactions/t.jsonl.gz: corrupt gzip stream")


def test_records_outside_i_json_are_invalid_records_not_crashes(world, services):
    result = ingest(put_raw(world, "raw/transactions/t.jsonl", b'{"n": 9007199254740993}\n{"n": 1e400}\n{"n": 1}\n'),
                    execution_id=EXECUTION, started_at=STARTED, services=services)
    errors = read(services, result).column("error").to_pylist()
    assert errors[0].startswith("not representable in I-JSON") and errors[1].startswith("not representable in I-JSON")
    assert errors[2] is None and len(errors) == 3


def test_json_lines_saved_as_json_are_read_whole_however_large(world, services):
    # GIVEN JSON Lines named .json (as Spark and Firehose write them), 1,600 records, well past the 64 KiB
    # a reader looks at to tell an array from a document, and past the 1 MiB a document may be; plain and gzipped
    line = b'{"transaction_id": "t%05d", "timestamp": "2024-03-15T10:00:00Z", "user_id": "u", "amount": 1.5, ' \
           b'"currency": "EUR", "merchant": "' + b"m" * 600 + b'"}\n'
    lines = [line % i for i in range(1600)]
    data = b"".join(lines)
    assert len(data) > (1 << 20)
    for key, body in (("raw/transactions/spark.json", data), ("raw/transactions/spark.json.gz", gzip.compress(data)),
                      ("raw/transactions/small.json", b"".join(lines[:90]))):  # under 1 MiB: one staged part
        # WHEN it is planned and its chunks read
        state = ingest({**put_raw(world, key, body), "chunk_mb": 0.25}, execution_id=EXECUTION + key, started_at=STARTED,
                       services=services)
        staged = read(services, state)
        # THEN every line is one record, none lost
        expected = 90 if key.endswith("small.json") else 1600
        assert staged.num_rows == expected and staged.column("error").null_count == expected, key


def test_a_small_json_document_no_reader_can_read_is_rejected_at_ingest(world, services):
    reason = rejected_reason(world, services, "raw/transactions/doc.json", b'{\n  "transaction_id": "t\xff"\n}\n')
    assert "not valid UTF-8" in reason


def test_a_file_that_would_make_too_many_chunks_is_rejected_naming_the_chunk_size(world, services, monkeypatch):
    # GIVEN a cap of 3 chunks a run
    monkeypatch.setattr(plan, "MAX_CHUNKS", 3)
    data = b"".join(b'{"transaction_id": "t%d"}\n' % i for i in range(200))
    for key, body in (("raw/transactions/many.jsonl", data), ("raw/transactions/many.jsonl.gz", gzip.compress(data))):
        # WHEN it is cut into chunks of 500 bytes, which would make about 10 of them
        result = run_until_output(services, {**put_raw(world, key, body), "chunk_mb": 500 / (1 << 20)}, EXECUTION + key)
        # THEN the run is rejected before any chunk is processed, saying what to change
        assert result["outcome"]["verdict"] == "REJECTED", key
        assert "more than 3 chunks of 500 bytes: run it with a larger chunk_mb" in result["outcome"]["reason"]
