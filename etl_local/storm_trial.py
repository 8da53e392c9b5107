"""A fault-storm trial: many files through the local pipeline under injected faults, checked for losses.

``python -m etl_local.storm_trial --files 200 --fault-rate 0.1`` runs copies of the
bundled samples (clean, partly invalid, rejected) through one local AWS whose
requests fail at that rate (:mod:`etl_local.emulation.storm`), redrives the runs
that FAILED (as an operator would; the storm goes on), replays the dead-letter
queue, and checks what a data engineer relies on:

* every valid record of every file is in ``processed/`` exactly once (record ids
  compared with a fault-free run of the same content);
* every invalid record is in quarantine, once;
* no run is left RUNNING or WRITING;
* no dead letter is replayed into two runs.

It prints one JSON object; the exit status is 1 when anything was lost,
duplicated or stuck.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from chalicelib import run_record as r
from chalicelib.config import DEFAULT_SCHEMAS_DIR
from chalicelib.control import deadletters
from chalicelib.control.runs import describe_run, redrive_run
from chalicelib.datasets import DatasetRegistry
from chalicelib.keys import PROCESSED_ROOT
from chalicelib.storage.objects import split_s3_uri
from etl_local.emulation.storm import FaultStorm
from etl_local.emulation.world import LocalAws
from etl_local.runner import RunReport, finish, run_file, start_file

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# What each trial file is a copy of: clean, partly invalid (quarantine and a dead letter), rejected.
TEMPLATES = ("transactions.jsonl", "transactions_with_errors.csv", "rejected/transactions_mostly_invalid.jsonl")
MAX_REDRIVES = 5
MAX_REPLAY_ROUNDS = 20


@dataclass
class TrialReport:
    """What a storm did and whether anything was lost."""

    files: int
    fault_rate: float
    seed: int
    faults_injected: dict[str, int]
    first_statuses: dict[str, int]  # status of each run when its execution first ended
    redrives: int
    final_statuses: dict[str, int]
    records_expected: int
    records_written: int
    records_lost: int
    records_duplicated: int
    quarantined_expected: int
    quarantined: int
    runs_stuck: int
    dead_letters_replayed: int
    duplicated_replays: int
    problems: list[str] = field(default_factory=list)

    @property
    def lossless(self) -> bool:
        return not self.problems


def _copies(count: int, folder: Path) -> list[tuple[Path, str]]:
    """``count`` files, each a copy of a template under its own name, with the template it copies."""
    files = []
    for i in range(count):
        template = TEMPLATES[i % len(TEMPLATES)]
        suffix = "".join(Path(template).suffixes)
        path = folder / f"transactions_storm{i:04d}{suffix}"
        shutil.copyfile(SAMPLES / template, path)
        files.append((path, template))
    return files


def _record_ids(world: LocalAws) -> Counter[tuple[str, str]]:
    """(source key, record id) of every record in ``processed/``."""
    s3, bucket = world.client("s3"), world.names.processed_bucket
    found: Counter[tuple[str, str]] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PROCESSED_ROOT}/"):
        for item in page.get("Contents", []):
            table = pq.read_table(pa.BufferReader(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()),
                                  columns=["source_key", "record_id"])
            found.update(zip(table.column("source_key").to_pylist(), table.column("record_id").to_pylist(), strict=True))
    return found


def _quarantined(world: LocalAws, report: RunReport) -> int:
    item = world.services().runs.get(report.run_id) or {}
    if not item.get(r.QUARANTINE):
        return 0
    bucket, key = split_s3_uri(item[r.QUARANTINE])
    return len(world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().splitlines())


def _reference(registry: DatasetRegistry, work: Path) -> dict[str, tuple[Counter[str], int]]:
    """Per template: the record ids a fault-free run writes, and how many records it quarantines."""
    expected = {}
    with LocalAws() as world:
        for template in TEMPLATES:
            report = run_file(world, SAMPLES / template, None, work / "reference", registry)
            key = report.source["key"]
            ids = Counter(record for (source, record), n in _record_ids(world).items() for _ in range(n) if source == key)
            expected[template] = (ids, _quarantined(world, report))
    return expected


def trial(files: int, fault_rate: float, seed: int = 0, work: Path | None = None) -> TrialReport:
    """Run ``files`` copies of the samples through a storm, redrive, replay, and check for losses."""
    registry = DatasetRegistry(DEFAULT_SCHEMAS_DIR)
    with tempfile.TemporaryDirectory() as scratch:
        folder = work or Path(scratch)
        (folder / "in").mkdir(parents=True, exist_ok=True)
        expected = _reference(registry, folder)
        copies = _copies(files, folder / "in")
        storm = FaultStorm(fault_rate, seed)
        with LocalAws(storm=storm) as world:
            services = world.services()
            # all at once, as a burst of uploads would start them
            started = [(start_file(world, path, None, registry), template) for path, template in copies]
            reports = [(finish(world, run, folder / "out"), template) for run, template in started]
            first = Counter(report.status for report, _ in reports)
            redrives = 0
            for report, _ in reports:
                for _ in range(MAX_REDRIVES):
                    # as an operator sees it: a record the failure handler could not update is reconciled on read
                    if describe_run(services, report.run_id)["status"] != r.FAILED:
                        break
                    redrive_run(services, report.run_id)
                    world.wait(report.execution_arn)
                    redrives += 1
            final = Counter(str(describe_run(services, report.run_id)["status"]) for report, _ in reports)
            written = _record_ids(world)
            replayed = _replay_letters_of(world, {report.run_id for report, _ in reports})
            return _judge(files, storm, seed, first, redrives, final, written, replayed, reports, expected, world)


def _replay_letters_of(world: LocalAws, runs: set[str]) -> Counter[str]:
    """Replay the dead-letter queue until no letter of ``runs`` is left; how many runs each one's letters started.

    A replay of data nobody fixed is rejected again and sends a letter of its own;
    those are replayed along the way too, but only the letters of ``runs`` are counted.
    """
    services, started = world.services(), Counter[str]()
    for _ in range(MAX_REPLAY_ROUNDS):
        results = deadletters.replay(services)["results"]
        for result in results:
            if result["outcome"] == "started":
                world.wait(result["execution_arn"])
                if result["replay_of"] in runs:
                    started[result["replay_of"]] += 1
        if not any(result["replay_of"] in runs for result in results):
            break
    return started


def _judge(files: int, storm: FaultStorm, seed: int, first: Counter[str], redrives: int, final: Counter[str],
           written: Counter[tuple[str, str]], replayed: Counter[str], reports: list[tuple[RunReport, str]],
           expected: dict[str, tuple[Counter[str], int]], world: LocalAws) -> TrialReport:
    lost = duplicated = wanted = quarantined_wanted = quarantined = 0
    problems = []
    for report, template in reports:
        ids, invalid = expected[template]
        got = Counter({record: n for (source, record), n in written.items() if source == report.source["key"]})
        wanted += sum(ids.values())
        missing, extra = sum((ids - got).values()), sum((got - ids).values())
        lost, duplicated = lost + missing, duplicated + extra
        if missing or extra:
            problems.append(f"{report.source['key']}: {missing} records missing, {extra} extra")
        quarantined_wanted += invalid
        in_quarantine = _quarantined(world, report)
        quarantined += in_quarantine
        if in_quarantine != invalid:
            problems.append(f"{report.source['key']}: {in_quarantine} records in quarantine, {invalid} expected")
    stuck = sum(n for status, n in final.items() if status not in r.TERMINAL_STATUSES)
    if stuck:
        problems.append(f"{stuck} runs neither succeeded, failed nor were rejected: {dict(final)}")
    failed_for_good = final.get(r.FAILED, 0)
    if failed_for_good:
        problems.append(f"{failed_for_good} runs still FAILED after {MAX_REDRIVES} redrives each")
    doubled = sum(n - 1 for n in replayed.values() if n > 1)
    if doubled:
        problems.append(f"{doubled} dead letters replayed into a second run")
    return TrialReport(
        files=files, fault_rate=storm.rate, seed=seed, faults_injected=storm.counts(), first_statuses=dict(first),
        redrives=redrives, final_statuses=dict(final), records_expected=wanted, records_written=sum(written.values()),
        records_lost=lost, records_duplicated=duplicated, quarantined_expected=quarantined_wanted, quarantined=quarantined,
        runs_stuck=stuck, dead_letters_replayed=sum(replayed.values()), duplicated_replays=doubled, problems=problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl_local.storm_trial", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=30, help="how many files (default 30)")
    parser.add_argument("--fault-rate", type=float, default=0.1, help="share of AWS requests that fail (default 0.1)")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the storm (default 0)")
    args = parser.parse_args(argv)
    report = trial(args.files, args.fault_rate, args.fault_seed)
    print(json.dumps({**asdict(report), "lossless": report.lossless}, indent=1))
    return 0 if report.lossless else 1


if __name__ == "__main__":
    sys.exit(main())
