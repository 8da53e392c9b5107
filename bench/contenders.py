"""What the benchmark times, each run in a child process: ``python -m bench.contenders NAME FILE OUT``.

- ``plain``: the plain per-record script a team writes first: ``json.loads``, ``jsonschema``
  Draft 2020-12 with format checks, dict transforms, ``hashlib.sha256`` over
  ``json.dumps(sort_keys=True)``, pyarrow Parquet at the end;
- ``baseline``: the same with the project's RFC 8785 record ids, so its rows can be compared with
  the project's (record ids included);
- ``floor``: pyarrow reads the file and writes Snappy Parquet, nothing else;
- ``dataplane``: the real ingest -> validate -> transform -> output stage code, on moto's S3 served from
  another process (as S3 is not in a Lambda's memory);
- ``etl_run``: the whole ``etl run`` (state machine, Lambda bridge, run table) on the same file, in
  chunks of the project's default size; ``etl_run_1_chunk`` and ``etl_run_8_chunks``: the same in
  one chunk and in eight.

Each prints one JSON line: seconds of the work itself (imports and setup excluded), counts, and
the peak resident set size the OS reports for the process.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

RUN_ID = "bench-0000000000000000"
BUCKET_RAW, BUCKET_PROCESSED, TABLE = "bench-raw", "bench-processed", "bench-runs"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
PARTITIONS = ("year", "month", "day", "hour")


def baseline(path: Path, out: Path) -> dict[str, Any]:
    import rfc8785

    return _per_record(path, out, lambda record: hashlib.sha256(rfc8785.dumps(record)).hexdigest())


def plain(path: Path, out: Path) -> dict[str, Any]:
    return _per_record(path, out, lambda record: hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest())


def _per_record(path: Path, out: Path, record_id: Callable[[Any], str]) -> dict[str, Any]:
    """Record by record: json, jsonschema (format checks on), dict transforms, ``record_id``; Parquet at the end."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from jsonschema import Draft202012Validator, FormatChecker

    from chalicelib.config import DEFAULT_SCHEMAS_DIR
    from chalicelib.datasets import DatasetRegistry
    from chalicelib.datasets.columns import output_schema
    from chalicelib.keys import raw_key

    dataset = DatasetRegistry(DEFAULT_SCHEMAS_DIR).get("transactions")
    validator = Draft202012Validator(dataset.schema, format_checker=FormatChecker())
    schema = output_schema(dataset)
    started = time.perf_counter()
    processed_at = datetime.now(UTC)
    rows, invalid, quarantine = [], 0, []
    with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")) as lines:
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except ValueError as error:
                invalid += 1
                quarantine.append({"line": number, "reasons": [{"rule": "parse", "message": str(error)}]})
                continue
            errors = list(validator.iter_errors(record))
            if errors:
                invalid += 1
                quarantine.append({"line": number, "reasons": [{"path": e.json_path, "rule": e.validator, "message": e.message} for e in errors]})
                continue
            moment = datetime.fromisoformat(record["timestamp"]).astimezone(UTC)
            amount = record["amount"]
            category = "micro" if amount < 10 else "small" if amount < 100 else "medium" if amount < 1000 else "large"
            rows.append({
                "transaction_id": record["transaction_id"], "timestamp": moment, "user_id": record["user_id"],
                "amount": float(amount), "currency": record["currency"], "merchant": record.get("merchant"),
                "amount_category": category, "is_high_value": amount > 1000, "transaction_date": moment.date(),
                "record_id": record_id(record), "processed_at": processed_at,
                "source_bucket": BUCKET_RAW, "source_key": raw_key("transactions", path.name), "source_version": None,
                "run_id": RUN_ID,
                "year": f"{moment:%Y}", "month": f"{moment:%m}", "day": f"{moment:%d}", "hour": f"{moment:%H}",
            })
    table = pa.Table.from_pylist(rows, schema=pa.schema(list(schema) + [pa.field(p, pa.string()) for p in PARTITIONS]))
    pq.write_to_dataset(table, out / "processed", partition_cols=list(PARTITIONS), compression="snappy")
    (out / "quarantine.jsonl").write_text("".join(json.dumps(q) + "\n" for q in quarantine))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "valid": len(rows), "invalid": invalid}


def floor(path: Path, out: Path) -> dict[str, Any]:
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    started = time.perf_counter()
    table = pj.read_json(path)
    pq.write_table(table, out / "floor.parquet", compression="snappy")
    return {"seconds": time.perf_counter() - started, "valid": table.num_rows, "invalid": 0}


@contextlib.contextmanager
def aws_in_another_process() -> Iterator[None]:
    """moto's server in a child process, so the objects S3 holds do not count in this process's memory."""
    with socket.socket() as probe:  # a free port, without importing the local runtime (and moto) here
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}):  # restored on exit
            yield
    finally:
        server.terminate()
        server.wait(10)


@contextlib.contextmanager
def source_in_another_process(path: Path) -> Iterator[str]:
    """:func:`aws_in_another_process` with the benchmark's buckets (the raw one versioned, as deployed) and run table,
    and ``path`` uploaded as a transactions file; yields its key."""
    import boto3

    from chalicelib.keys import raw_key
    from chalicelib.storage.runs import table_definition

    with mock.patch.dict(os.environ, CREDENTIALS), aws_in_another_process():
        s3 = boto3.client("s3")
        for bucket in (BUCKET_RAW, BUCKET_PROCESSED):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=BUCKET_RAW, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("dynamodb").create_table(**table_definition(TABLE))
        key = raw_key("transactions", path.name)
        s3.upload_file(str(path), BUCKET_RAW, key)
        yield key


def dataplane(path: Path, out: Path) -> dict[str, Any]:
    import boto3

    from bench.dataplane import run_stages
    from chalicelib.config import Settings
    from chalicelib.services import Services

    with source_in_another_process(path) as key:
        s3 = boto3.client("s3")
        services = Services.create(Settings(BUCKET_RAW, BUCKET_PROCESSED, TABLE))
        started = time.perf_counter()
        # the chunks several at a time, as the Map runs them
        state = run_stages(services, {"bucket": BUCKET_RAW, "key": key}, f"arn:bench:{RUN_ID}", threads=os.cpu_count() or 1)
        seconds = time.perf_counter() - started
        for item in s3.list_objects_v2(Bucket=BUCKET_PROCESSED, Prefix="processed/").get("Contents", []):
            target = out / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(BUCKET_PROCESSED, item["Key"], str(target))
    return {"seconds": seconds, "valid": state["outcome"]["records_valid"], "invalid": state["outcome"]["records_invalid"]}


def etl_run(path: Path, out: Path, chunk_mb: float | None = None) -> dict[str, Any]:
    from chalicelib.config import DEFAULT_SCHEMAS_DIR
    from chalicelib.datasets import DatasetRegistry
    from etl_local.emulation.world import LocalAws
    from etl_local.runner import run_file

    registry = DatasetRegistry(DEFAULT_SCHEMAS_DIR)
    with LocalAws() as world:
        started = time.perf_counter()
        report = run_file(world, path, "transactions", out, registry, chunk_mb=chunk_mb)
        seconds = time.perf_counter() - started
    assert report.status == "SUCCEEDED", report.to_dict()
    return {"seconds": seconds, "valid": report.records_valid, "invalid": report.records_invalid, "chunks": report.chunks}


def _in_chunks(count: int) -> Callable[[Path, Path], dict[str, Any]]:
    """``etl_run`` with the file cut into ``count`` chunks.

    One chunk of a 158 MB file is above the largest chunk a run may ask for (Lambda's
    limits bound it, ``chalicelib.config.MAX_CHUNK_MB``); locally no Lambda limit
    applies, so this process lifts the bound to measure the single-chunk case.
    """
    def run(path: Path, out: Path) -> dict[str, Any]:
        import chalicelib.config

        megabytes = path.stat().st_size / (1 << 20)
        chunk_mb = megabytes * 1.001 / count
        with mock.patch.object(chalicelib.config, "MAX_CHUNK_MB", max(chalicelib.config.MAX_CHUNK_MB, chunk_mb)):
            result = etl_run(path, out, chunk_mb=chunk_mb)
        assert result["chunks"] == count, result
        return result
    return run


CONTENDERS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "plain": plain, "baseline": baseline, "floor": floor, "dataplane": dataplane, "etl_run": etl_run,
    "etl_run_1_chunk": _in_chunks(1), "etl_run_8_chunks": _in_chunks(8),
}


def main(argv: list[str]) -> None:
    name, path, out = argv[0], Path(argv[1]), Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    result = CONTENDERS[name](path, out)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, imports and setup included
    print(json.dumps({"name": name, **result, "peak_rss_mb": round(peak_kb / 1024, 1)}))


if __name__ == "__main__":
    main(sys.argv[1:])
