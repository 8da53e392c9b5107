"""Run the benchmark: ``python -m bench [--records N | --megabytes MB] [--rounds R] [--gzip] [--only ...]``.

Generates a deterministic transactions file (2 % invalid by default), then runs each contender
(see :mod:`bench.contenders`) in its own child process, interleaved over the rounds, and prints
records per second (median), peak RSS, the ratios the targets are stated in, and whether the
project's outputs agree with the baseline's (same counts, same record ids, same rows).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from bench.generate import write
from infra.chalice_project import shared_environment

ORDER = ("floor", "plain", "baseline", "dataplane", "etl_run", "etl_run_1_chunk", "etl_run_8_chunks")
BYTES_PER_JSON_LINE = 165  # of a generated transaction, to size a file by megabytes
COMPARED = ["transaction_id", "timestamp", "user_id", "amount", "currency", "merchant",
            "amount_category", "is_high_value", "transaction_date", "record_id"]
# (what, faster contender, slower contender, target): each a ratio of records per second, measured in the same run.
TARGETS = (
    ("etl run / plain per-record script", "etl_run", "plain", 10.0),
    ("data plane / pyarrow floor", "dataplane", "floor", 0.25),
    ("etl run in 8 chunks / in 1 chunk", "etl_run_8_chunks", "etl_run_1_chunk", 1.4),
    ("data plane / RFC 8785 baseline (issue 4)", "dataplane", "baseline", 30.0),
)


def run_child(name: str, path: Path, out: Path) -> dict:
    # The project's contenders run with the environment every deployed function gets (allocator settings, ...);
    # the baselines and the floor with defaults.
    project = name.startswith(("dataplane", "etl_run"))
    env = {**os.environ, **(shared_environment() if project else {})}
    completed = subprocess.run([sys.executable, "-m", "bench.contenders", name, str(path), str(out)],
                               capture_output=True, text=True, check=False, env=env)
    if completed.returncode != 0:
        raise SystemExit(f"{name} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def written(folder: Path) -> pa.Table:
    table = ds.dataset(folder / "processed", format="parquet", partitioning="hive").to_table(columns=COMPARED)
    return table.sort_by("record_id")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the median is reported")
    parser.add_argument("--invalid", type=float, default=0.02, help="share of invalid records (default 0.02)")
    parser.add_argument("--megabytes", type=float, help="size the file to about this many MB instead (e.g. 1000 for 1 GB)")
    parser.add_argument("--gzip", action="store_true", help="gzip the file")
    parser.add_argument("--span-hours", type=float, default=24.0,
                        help="hours the timestamps cover (default 24: a daily file, 24 hourly partitions)")
    parser.add_argument("--only", nargs="+", choices=ORDER, default=list(ORDER))
    args = parser.parse_args(argv)
    if args.megabytes:
        args.records = int(args.megabytes * 1e6 / BYTES_PER_JSON_LINE)

    with tempfile.TemporaryDirectory(prefix="etl-bench-") as scratch:
        work = Path(scratch)
        name = "transactions.jsonl" + (".gz" if args.gzip else "")
        data = write(work / name, args.records, invalid_share=args.invalid, gzipped=args.gzip, span_hours=args.span_hours)
        print(f"{args.records:,} transactions over {args.span_hours:g} h, {data.stat().st_size / 1e6:.0f} MB {name}, "
              f"{args.invalid:.0%} invalid; {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"{args.rounds} round(s)", flush=True)
        results: dict[str, list[dict]] = {name: [] for name in args.only}
        for round_number in range(args.rounds):
            for name in args.only:
                results[name].append(run_child(name, data, work / f"{name}-{round_number}"))
        rate = {n: args.records / statistics.median(r["seconds"] for r in rs) for n, rs in results.items()}
        print(f"\n{'contender':<18} {'records/s':>12} {'seconds':>9} {'peak RSS MB':>12} {'valid':>9} {'invalid':>8}")
        for name, rs in results.items():
            last = rs[-1]
            print(f"{name:<18} {rate[name]:>12,.0f} {args.records / rate[name]:>9.2f} "
                  f"{max(r['peak_rss_mb'] for r in rs):>12.0f} {last['valid']:>9,} {last['invalid']:>8,}")
        measured = [(label, rate[fast] / rate[slow], target) for label, fast, slow, target in TARGETS if {fast, slow} <= results.keys()]
        if measured:
            print()
        for label, ratio, target in measured:
            print(f"{label:<42} {ratio:>8.2f}   target >= {target:g}  {'met' if ratio >= target else 'MISSED'}")
        status = 0
        if {"baseline", "dataplane"} <= results.keys():
            baseline, project = results["baseline"][-1], results["dataplane"][-1]
            same_counts = (baseline["valid"], baseline["invalid"]) == (project["valid"], project["invalid"])
            same_rows = written(work / f"baseline-{args.rounds - 1}").equals(written(work / f"dataplane-{args.rounds - 1}"))
            print(f"\noutputs agree with the baseline: counts {'yes' if same_counts else 'NO'}, "
                  f"rows and record ids {'yes' if same_rows else 'NO'}")
            status = 0 if same_counts and same_rows else 1
    return status


if __name__ == "__main__":
    sys.exit(main())
