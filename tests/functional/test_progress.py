"""`etl run` at a terminal shows its progress, and stays quiet with --json or into a pipe."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from bench.generate import write
from etl_local.progress import CLEAR_LINE, progress_line

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_at_a_terminal(*args: str) -> str:
    """What ``etl run ARGS`` writes to a pseudo-terminal (its stdout and stderr both)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "etl_local.cli", "run", *args], cwd=PROJECT_ROOT,
                               stdout=follower, stderr=follower, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    os.close(follower)
    output = b""
    while True:
        try:
            data = os.read(leader, 1 << 16)
        except OSError:  # the terminal closed: the process is gone
            break
        if not data:
            break
        output += data
    os.close(leader)
    assert process.wait(timeout=300) == 0
    return output.decode()


def test_a_run_at_a_terminal_shows_chunks_and_records_as_they_are_validated(tmp_path):
    # GIVEN a file of many small chunks, so the run takes more than the progress line's half second
    data = write(tmp_path / "transactions.jsonl", 6000, invalid_share=0.0)
    # WHEN it runs at a terminal
    shown = run_at_a_terminal(str(data), "--chunk-mb", "0.02", "--out", str(tmp_path / "out"))
    # THEN a progress line came and went before the summary
    assert "chunks validated" in shown and "records/s" in shown and CLEAR_LINE in shown
    assert shown.rstrip().splitlines()[-1].startswith("  ") and "SUCCEEDED transactions-" in shown
    # AND with --json, only the JSON
    quiet = run_at_a_terminal(str(data), "--chunk-mb", "0.02", "--json", "--out", str(tmp_path / "out2"))
    assert "chunks validated" not in quiet and quiet.lstrip().startswith("{")


def test_the_progress_line_counts_what_the_run_record_says():
    item = {"run_id": "r", "chunks": 8, "chunks_validated": [0, 2, 5], "records_in": 120_000}
    assert progress_line(item, 2.0) == "r: 3/8 chunks validated, 120,000 records, 60,000 records/s"
    assert progress_line({"run_id": "r"}, 1.0) is None  # not planned yet
