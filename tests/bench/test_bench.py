"""The benchmark's generator is deterministic, and its baseline and the data plane agree (small files)."""
from __future__ import annotations

import gzip
import json
import os

from bench import __main__ as bench_main
from bench import contenders, invocations
from bench.generate import records, write
from infra.chalice_project import function_config


def test_the_same_records_whatever_the_chunking():
    assert records(0, 250) == records(0, 100) + records(100, 150)


def test_the_invalid_share_is_about_what_was_asked(tmp_path):
    path = write(tmp_path / "t.jsonl.gz", 5_000, invalid_share=0.1, gzipped=True)
    lines = [json.loads(line) for line in gzip.open(path, "rt")]
    broken = [r for r in lines if "channel" in r or "user_id" not in r or r["amount"] < 0
              or r["currency"] != r["currency"].upper() or r["timestamp"].startswith("2024-13")]
    assert len(lines) == 5_000 and 400 <= len(broken) <= 600


def test_csv_files_have_one_header(tmp_path):
    text = write(tmp_path / "t.csv", 250_000 // 1000, fmt="csv").read_text()
    assert text.count("transaction_id,timestamp") == 1


def test_baseline_and_data_plane_write_the_same_rows_and_record_ids(capsys):
    assert bench_main.main(["--records", "400", "--invalid", "0.05", "--only", "baseline", "dataplane"]) == 0
    assert "rows and record ids yes" in capsys.readouterr().out


def test_a_json_array_file_holds_every_record_once(tmp_path):
    assert json.loads(write(tmp_path / "t.json", 250, fmt="json").read_text()) == records(0, 250, spacing=24 * 3600 / 250)
    assert json.loads(write(tmp_path / "empty.json", 0, fmt="json").read_text()) == []


def test_invocations_measures_every_invocation_of_a_chunked_run_against_its_configured_limits(tmp_path):
    # GIVEN a small file cut into three chunks
    path = write(tmp_path / "t.jsonl", 3_000)
    chunk_mb = path.stat().st_size / (1 << 20) / 2.5
    # WHEN each invocation runs in a process of its own
    measured = invocations.measure(path, chunk_mb, tmp_path)
    # THEN every function the state machine invokes is measured, the chunk functions once per chunk, in order
    assert [(i.function, i.chunk) for i in measured] == [
        ("ingest", None), *[(f, c) for c in range(3) for f in ("validate", "transform")], ("verdict", None), ("output", None)]
    # AND each against its own configured memory, with figures a real process has
    assert {i.function: i.memory_mb for i in measured} == {f: function_config("prod", f).lambda_memory_size for f in
                                                          ("ingest", "validate", "transform", "verdict", "output")}
    assert all(i.peak_rss_mb > 50 and i.cpu_seconds > 0 for i in measured)
    assert any(i.peak_tmp_mb > 0 for i in measured if i.function == "transform")  # Parquet is written in /tmp first


def test_the_aws_server_of_a_measurement_leaves_the_environment_as_it_found_it(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with contenders.aws_in_another_process():
        assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert "AWS_ENDPOINT_URL" not in os.environ
