"""The ``etl`` command."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from chalicelib.config import DEFAULT_SCHEMAS_DIR
from chalicelib.datasets import DatasetRegistry
from etl_local.bridge import Fault

EXIT_SUCCEEDED = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_FAILED = 4
EXIT_CODES = {"SUCCEEDED": EXIT_SUCCEEDED, "REJECTED": EXIT_REJECTED, "FAILED": EXIT_FAILED}

RUN_EPILOG = f"""\
exit status:
  {EXIT_SUCCEEDED}  every run SUCCEEDED (invalid records, if any, were quarantined)
  {EXIT_ERROR}  the local runtime itself failed
  {EXIT_USAGE}  usage error (bad option, missing file, dataset not inferable)
  {EXIT_REJECTED}  a run was REJECTED: too many invalid records, or an unusable file
  {EXIT_FAILED}  a run FAILED: a step raised an error that retries did not clear
With several files, the highest of these codes wins.

examples:
  etl run samples/                                  every sample file
  etl run samples/transactions.jsonl --json         one run, JSON report
  etl run data.csv --dataset metrics --out /tmp/o   name the dataset
  etl run samples/transactions.jsonl --fail transform:TransientError:2
"""


def _fault(text: str) -> Fault:
    try:
        return Fault.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etl", description="Serverless ETL pipeline: local runtime and tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run files through the real state machine and functions on a local AWS emulation",
        description="Create local buckets, table, queue and topic (moto, in-process), upload each file to "
        "raw/<dataset>/ and execute statemachines/etl.asl.json with the real Chalice functions. Outputs land "
        "under --out.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("paths", metavar="PATH", nargs="+", type=Path, help="a file, or a folder whose files are each run")
    run.add_argument("--dataset", metavar="NAME", help="dataset of the file(s); default: inferred from the file name")
    run.add_argument("--json", action="store_true", help="print a JSON object per run instead of a summary")
    run.add_argument("--out", metavar="DIR", type=Path, default=Path("etl-out"), help="where processed and quarantine files are copied (default: ./etl-out)")
    run.add_argument("--verbose", "-v", action="store_true", help="show the functions' INFO logs on stderr")
    run.add_argument("--fail", metavar="STEP[:ERROR[:TIMES]]", type=_fault, action="append", default=[],
                     help="make STEP (ingest, validate, transform, output) raise ERROR (default TransientError) "
                     "on its first TIMES invocations (default 1); repeatable")
    return parser


DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")


def _is_data_file(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return path.is_file() and not name.startswith(".") and name.endswith(DATA_SUFFIXES)


def _expand(paths: list[Path]) -> list[Path]:
    """Files named on the command line, and the data files (csv, json, jsonl, ndjson, .gz) of folders."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if _is_data_file(p)))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not files:
        raise FileNotFoundError(f"no files in {', '.join(map(str, paths))}")
    return files


def _summary(report: dict) -> str:
    lines = [
        f"{report['status']:<9} {report['run_id']}  ({report['dataset']}: s3://{report['source']['bucket']}/{report['source']['key']})",
        f"  records: {report['records_in']} in, {report['records_valid']} valid, {report['records_invalid']} quarantined, "
        f"{report['records_written']} written",
    ]
    if report["reason"]:
        lines.append(f"  reason: {report['reason']}")
    if report["error"]:
        lines.append(f"  failed at {report['failed_state']}: {report['error']}")
    path = " -> ".join(
        s["name"] + (f" (x{s['attempts']}, waits {'/'.join(f'{w:.1f}s' for w in s['retry_waits_seconds'])})" if s["attempts"] > 1 else "")
        for s in report["states"]
    )
    lines.append(f"  states: {path}")
    if report["outputs"]:
        lines.append(f"  parquet: {len(report['outputs'])} file(s), e.g. {report['outputs'][0]}")
    if report["quarantine"]:
        lines.append(f"  quarantine: {report['quarantine']}")
    if report["dlq_messages"]:
        lines.append(f"  dead-letter messages: {report['dlq_messages']}")
    return "\n".join(lines)


def run_command(args: argparse.Namespace) -> int:
    from etl_local.runner import UsageError, run_file  # moto loads only when a run is asked for
    from etl_local.world import LocalAws

    try:
        files = _expand(args.paths)
    except FileNotFoundError as error:
        print(f"etl run: {error}", file=sys.stderr)
        return EXIT_USAGE
    registry = DatasetRegistry(DEFAULT_SCHEMAS_DIR)
    worst = EXIT_SUCCEEDED
    with LocalAws(faults=args.fail, function_log_level=logging.INFO if args.verbose else logging.WARNING) as world:
        for path in files:
            try:
                report = run_file(world, path, args.dataset, args.out, registry).to_dict()
            except UsageError as error:
                print(f"etl run: {error}", file=sys.stderr)
                return EXIT_USAGE
            print(json.dumps(report, default=str) if args.json else _summary(report), flush=True)
            worst = max(worst, EXIT_CODES[report["status"]])
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_command(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
