"""`etl run` as users call it."""
from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from etl_local.cli import EXIT_FAILED, EXIT_REJECTED, EXIT_SUCCEEDED, EXIT_USAGE, build_parser, main
from infra.chalice_project import PROJECT_ROOT
from tests.conftest import SAMPLES, chunk_visit

REQUIRED_FIELDS = {"run_id", "status", "dataset", "records_in", "records_valid", "records_invalid", "outputs",
                   "quarantine", "dlq_messages", "states"}


def run_json(capsys, *args: str) -> tuple[int, list[dict]]:
    code = main(["run", *args, "--json"])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_transactions_sample_succeeds_with_enriched_hourly_parquet(capsys, tmp_path):
    code, [report] = run_json(capsys, str(SAMPLES / "transactions.jsonl"), "--out", str(tmp_path))
    assert code == EXIT_SUCCEEDED and REQUIRED_FIELDS <= set(report)
    assert report["status"] == "SUCCEEDED" and report["dataset"] == "transactions"
    assert report["records_in"] == report["records_valid"] + report["records_invalid"] == 24
    assert all(step["attempts"] >= 0 and "name" in step for step in report["states"])
    table = pq.read_table(tmp_path / "processed" / "transactions")  # hive partitions read back as columns
    assert table.num_rows == 24
    assert {"amount_category", "is_high_value", "transaction_date", "record_id", "processed_at", "run_id",
            "source_bucket", "source_key", "year", "month", "day", "hour"} <= set(table.column_names)
    assert all(path.startswith(str(tmp_path)) and "/hour=" in path for path in report["outputs"])


def test_folder_runs_every_data_file_and_prints_one_json_object_per_run(capsys, tmp_path):
    code, reports = run_json(capsys, str(SAMPLES), "--out", str(tmp_path))
    assert code == EXIT_SUCCEEDED
    assert [r["dataset"] for r in reports] == ["metrics", "transactions", "transactions", "user_actions"]
    assert all(r["status"] == "SUCCEEDED" for r in reports)
    partial = reports[2]
    assert partial["records_invalid"] == 2 and partial["dlq_messages"] == 1 and partial["quarantine"]


def test_rejected_file_exits_3_and_writes_nothing(capsys, tmp_path):
    code, [report] = run_json(capsys, str(SAMPLES / "rejected" / "transactions_mostly_invalid.jsonl"), "--out", str(tmp_path))
    assert code == EXIT_REJECTED and report["status"] == "REJECTED" and report["outputs"] == []
    assert report["dlq_messages"] == 1 and not (tmp_path / "processed").exists()


def test_transient_faults_are_retried(capsys, tmp_path):
    code, [report] = run_json(capsys, str(SAMPLES / "transactions.jsonl"), "--out", str(tmp_path), "--fail", "transform:TransientError:2")
    transform = chunk_visit(report["states"], "Transform")
    assert code == EXIT_SUCCEEDED and transform["attempts"] == 3


def test_permanent_fault_exits_4_with_the_error_on_the_run(capsys, tmp_path):
    code, [report] = run_json(capsys, str(SAMPLES / "transactions.jsonl"), "--out", str(tmp_path), "--fail", "transform:RuntimeError:9")
    assert code == EXIT_FAILED
    assert (report["status"], report["failed_state"], report["error"]) == ("FAILED", "Transform", "RuntimeError")


def test_human_summary(capsys, tmp_path):
    files = [str(SAMPLES / name) for name in ("transactions.jsonl", "transactions_with_errors.csv")]
    assert main(["run", *files, "--out", str(tmp_path), "--fail", "validate"]) == EXIT_SUCCEEDED
    clean, flawed = capsys.readouterr().out.split("\nSUCCEEDED ")
    assert clean.startswith("SUCCEEDED transactions-") and "Validate (x2, waits 2.0s)" in clean and "24 written" in clean
    assert "  quality: 0% invalid, 0% duplicate transaction_id, freshness " in clean and "0 of 3 checks breached" in clean
    assert "  quality: 6.7% invalid (minimum 1, pattern 1)" in flawed
    assert "  breached (warn): max_null_share(merchant) is 0.178571, limit 0.175" in flawed


def test_a_run_prints_no_warning_about_switched_off_metrics(tmp_path):
    # `etl run` as a user starts it: a process of its own, whose stderr is the terminal's
    command = [sys.executable, "-m", "etl_local.cli", "run", str(SAMPLES / "transactions.jsonl"), "--out", str(tmp_path)]
    finished = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == EXIT_SUCCEEDED and finished.stdout.startswith("SUCCEEDED transactions-")
    assert "No application metrics to publish" not in finished.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "does/not/exist.csv"], "no such file or folder"),
        (["run", "{samples}/generate.py"], "cannot tell the dataset"),
    ],
)
def test_usage_errors_exit_2(capsys, tmp_path, args, message):
    code = main([a.format(samples=SAMPLES) for a in args] + ["--out", str(tmp_path)])
    assert code == EXIT_USAGE and message in capsys.readouterr().err


@pytest.mark.parametrize("chunk_mb", ["0", "500", "x"])
def test_a_chunk_size_out_of_bounds_is_a_usage_error(capsys, chunk_mb):
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(SAMPLES / "transactions.jsonl"), "--chunk-mb", chunk_mb])
    assert exit_.value.code == EXIT_USAGE and "--chunk-mb" in capsys.readouterr().err


@pytest.mark.parametrize("fault", ["", "transform:Bad-Name", "transform:TransientError:0", "a:b:c:d"])
def test_bad_fail_option_is_a_usage_error(capsys, fault):
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(SAMPLES / "transactions.jsonl"), "--fail", fault])
    assert exit_.value.code == EXIT_USAGE


def test_help_documents_the_exit_codes():
    help_text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    for code, word in ((0, "SUCCEEDED"), (2, "usage"), (3, "REJECTED"), (4, "FAILED")):
        assert f"  {code}  " in help_text and word in help_text
