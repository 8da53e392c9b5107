"""The benchmark's generator is deterministic, and its baseline and the data plane agree (small files)."""
from __future__ import annotations

import gzip
import json

from bench import __main__ as bench_main
from bench.generate import records, write


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
