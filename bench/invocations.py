"""Each function invocation of a run in a process of its own, measured against the function's Lambda limits.

``python -m bench.invocations FILE [--chunk-mb N]`` runs the file through the real
stages as the state machine would (ingest, each chunk's validate and transform,
the verdict, output), each invocation in a fresh child process (a cold start:
imports included) with the function's configured environment, against moto's S3
and DynamoDB served from another process.  Per invocation it reports the peak
resident memory, the most ``/tmp`` held at once, the CPU seconds of the handler,
and an estimate of its duration on AWS (those CPU seconds divided by the vCPU
share the function's memory buys, memory / 1,769 MB), next to the function's
memory, ephemeral storage and timeout in ``.chalice/config.json``.

Run as ``python -m bench.invocations --child STAGE PAYLOAD OUT``, it is the child.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.contenders import BUCKET_PROCESSED, BUCKET_RAW, CREDENTIALS, TABLE, source_in_another_process
from infra.limits import EPHEMERAL_STORAGE_MB, Limits, limits

TMP_POLL_SECONDS = 0.02


@dataclass
class Invocation:
    """One function invocation, measured."""

    function: str
    chunk: int | None
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    peak_tmp_mb: float
    memory_mb: int
    timeout_seconds: int

    @property
    def estimated_aws_seconds(self) -> float:
        return self.cpu_seconds / Limits(self.memory_mb, self.timeout_seconds).vcpu_share


def _tmp_peak(folder: Path, stop: threading.Event, peak: list[int]) -> None:
    """The most bytes ``folder`` held at once, sampled until ``stop``."""
    while not stop.wait(TMP_POLL_SECONDS):
        total = 0
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(root, name))
                except OSError:
                    pass  # removed while counted
        peak[0] = max(peak[0], total)


def child(stage: str, payload_path: Path, out: Path) -> None:
    """Run one stage on the payload in ``payload_path``; write its result and measurements to ``out``."""
    from chalicelib.config import Settings
    from chalicelib.ingest import ingest
    from chalicelib.output import output
    from chalicelib.services import Services
    from chalicelib.transform import transform
    from chalicelib.validate import validate, verdict

    services = Services.create(Settings(BUCKET_RAW, BUCKET_PROCESSED, TABLE))
    payload = json.loads(payload_path.read_text())
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_tmp_peak, args=(Path(tempfile.gettempdir()), stop, peak), daemon=True)
    watcher.start()
    started, cpu = time.perf_counter(), time.process_time()
    if stage == "ingest":
        result: Any = ingest(payload["input"], execution_id=payload["execution_id"], started_at=payload["started_at"],
                             services=services)
    else:
        stages: dict[str, Callable[..., Any]] = {"validate": validate, "transform": transform, "verdict": verdict, "output": output}
        result = stages[stage](payload, services)
    cpu, seconds = time.process_time() - cpu, time.perf_counter() - started
    stop.set()
    watcher.join()
    out.write_text(json.dumps({"result": result, "seconds": seconds, "cpu_seconds": cpu, "peak_tmp_bytes": peak[0],
                               "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}, default=str))


def _invoke(stage: str, payload: Any, work: Path, environment: dict[str, str], chunk: int | None) -> tuple[Any, Invocation]:
    name = f"{stage}-{chunk}" if chunk is not None else stage
    payload_path, out = work / f"{name}.in.json", work / f"{name}.out.json"
    payload_path.write_text(json.dumps(payload, default=str))
    tmp = work / f"{name}.tmp"
    tmp.mkdir()
    subprocess.run([sys.executable, "-m", "bench.invocations", "--child", stage, str(payload_path), str(out)],
                   env={**environment, "TMPDIR": str(tmp)}, check=True)
    shutil.rmtree(tmp)
    measured = json.loads(out.read_text())
    limit = limits(stage)
    return measured["result"], Invocation(
        function=stage, chunk=chunk, seconds=round(measured["seconds"], 2), cpu_seconds=round(measured["cpu_seconds"], 2),
        peak_rss_mb=round(measured["peak_rss_kb"] / 1024, 1), peak_tmp_mb=round(measured["peak_tmp_bytes"] / 1e6, 1),
        memory_mb=limit.memory_mb, timeout_seconds=limit.timeout_seconds,
    )


def measure(path: Path, chunk_mb: float | None, work: Path) -> list[Invocation]:
    """Every invocation of a run of ``path``, each in a process of its own, in the order the state machine makes them."""
    import boto3

    from infra.chalice_project import shared_environment

    invocations: list[Invocation] = []
    with source_in_another_process(path) as key:
        environment = {**os.environ, **shared_environment(), **CREDENTIALS, "POWERTOOLS_METRICS_DISABLED": "true"}
        s3 = boto3.client("s3")
        request: dict[str, Any] = {"bucket": BUCKET_RAW, "key": key}
        if chunk_mb is not None:
            request["chunk_mb"] = chunk_mb
        started_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        state, measured = _invoke("ingest", {"input": request, "execution_id": "arn:bench:invocations", "started_at": started_at},
                                  work, environment, None)
        invocations.append(measured)
        plan = json.loads(s3.get_object(Bucket=state["chunks"]["bucket"], Key=state["chunks"]["key"])["Body"].read())
        for chunk in plan:
            task: Any = {"run": state["run"], "chunk": chunk}
            for stage in ("validate", "transform"):
                task, measured = _invoke(stage, task, work, environment, chunk["index"])
                invocations.append(measured)
        for stage in ("verdict", "output"):
            state, measured = _invoke(stage, state, work, environment, None)
            invocations.append(measured)
    return invocations


def table(invocations: list[Invocation]) -> list[str]:
    """Per function, the largest figure of its invocations against its limit (and the share of the limit)."""
    lines = [f"{'function':<10} {'calls':>5} {'peak RSS MB':>18} {'/tmp MB':>16} {'est. AWS s':>16} {'local s':>8}"]
    for function in dict.fromkeys(i.function for i in invocations):
        mine = [i for i in invocations if i.function == function]
        rss, tmp = max(i.peak_rss_mb for i in mine), max(i.peak_tmp_mb for i in mine)
        aws, memory, timeout = max(i.estimated_aws_seconds for i in mine), mine[0].memory_mb, mine[0].timeout_seconds
        lines.append(f"{function:<10} {len(mine):>5} {f'{rss:.0f}/{memory} {rss / memory:.0%}':>18} "
                     f"{f'{tmp:.0f}/{EPHEMERAL_STORAGE_MB} {tmp / EPHEMERAL_STORAGE_MB:.0%}':>16} "
                     f"{f'{aws:.1f}/{timeout} {aws / timeout:.0%}':>16} {max(i.seconds for i in mine):>8.1f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.invocations", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, nargs="?")
    parser.add_argument("--chunk-mb", type=float, help="default: the project's")
    parser.add_argument("--megabytes", type=float, help="generate a transactions file of about this many MB of JSON Lines instead")
    parser.add_argument("--format", choices=["jsonl", "csv", "json"], default="jsonl",
                        help="of the generated file (json: one JSON array); the same records whatever the format")
    parser.add_argument("--gzip", action="store_true", help="gzip the generated file")
    parser.add_argument("--json", type=Path, help="also write every invocation's figures here")
    parser.add_argument("--child", nargs=3, metavar=("STAGE", "PAYLOAD", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    with tempfile.TemporaryDirectory(prefix="etl-invocations-") as scratch:
        work = Path(scratch)
        path = args.file
        if path is None:
            from bench.__main__ import BYTES_PER_JSON_LINE
            from bench.generate import write

            name = f"transactions.{args.format}" + (".gz" if args.gzip else "")
            records = int((args.megabytes or 1000) * 1e6 / BYTES_PER_JSON_LINE)
            path = write(work / name, records, fmt=args.format, gzipped=args.gzip)
        print(f"{path.stat().st_size / 1e6:,.0f} MB {path.name}; chunk: {args.chunk_mb or 'default'} MB", flush=True)
        invocations = measure(path, args.chunk_mb, work)
        print("\n".join(table(invocations)))
        if args.json:
            args.json.write_text(json.dumps([{**asdict(i), "estimated_aws_seconds": i.estimated_aws_seconds}
                                             for i in invocations], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
