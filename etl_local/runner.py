"""Running files through the local pipeline and reporting what happened."""
from __future__ import annotations

import contextlib
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from chalicelib import run_record as r
from chalicelib.control.reconcile import reconciled
from chalicelib.datasets import DatasetRegistry
from chalicelib.history import StateVisit, attach_children, timeline
from chalicelib.identity import run_id_for
from chalicelib.keys import raw_key
from chalicelib.run_record import TERMINAL_STATUSES, run_view
from chalicelib.storage.objects import split_s3_uri
from etl_local.emulation.world import LocalAws
from etl_local.progress import shown as progress_shown

COPY_CHUNK_BYTES = 8 << 20


class UsageError(ValueError):
    """The command line cannot be carried out as given."""


@dataclass
class RunReport:
    """What ``etl run`` prints: the run record, its journey through the states, and local copies."""

    run_id: str
    status: str
    dataset: str | None
    source: dict[str, Any]
    execution_arn: str
    records_in: int
    records_valid: int
    records_invalid: int
    records_written: int
    outputs: list[str]
    quarantine: str | None
    dlq_messages: int
    reason: str | None
    failed_state: str | None
    error: str | None
    cause: str | None
    states: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    faults_injected: dict[str, int] = field(default_factory=dict)  # per service, by --fault-rate, during this run
    quality: dict[str, Any] | None = None  # the run's data-quality profile, checks and anomalies
    chunks: int = 0  # how many chunks the source was processed in

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def infer_dataset(path: Path, known: list[str]) -> str | None:
    """The dataset a file belongs to, from its name (``transactions_2024.csv``) or its folder."""
    stem = path.name.lower()
    matches = [name for name in known if re.match(rf"{re.escape(name)}(?:$|[._-])", stem)]
    if matches:
        return max(matches, key=len)
    return path.parent.name if path.parent.name in known else None


@dataclass(frozen=True)
class StartedFile:
    """A file uploaded to the raw bucket and the execution running it."""

    run_id: str
    execution_arn: str


def start_file(world: LocalAws, path: Path, dataset: str | None, registry: DatasetRegistry,
               chunk_mb: float | None = None) -> StartedFile:
    """Upload ``path`` to ``raw/<dataset>/`` and start the state machine on that object version
    (in chunks of ``chunk_mb`` megabytes, when given)."""
    dataset = dataset or infer_dataset(path, registry.names())
    if dataset is None:
        raise UsageError(f"{path}: cannot tell the dataset from the file name; pass --dataset "
                         f"(known: {', '.join(registry.names())})")
    bucket, key = world.names.raw_bucket, raw_key(dataset, path.name)
    put = world.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    version = put.get("VersionId") or put["ETag"].strip('"')
    run_id = run_id_for(bucket, key, version)
    execution_input: dict[str, Any] = {"bucket": bucket, "key": key, "version": put.get("VersionId")}
    if chunk_mb is not None:
        execution_input["chunk_mb"] = chunk_mb
    return StartedFile(run_id, world.start_execution(run_id, execution_input))


def finish(world: LocalAws, started: StartedFile, out_dir: Path, progress: TextIO | None = None) -> RunReport:
    """Wait for the run to end and report it, with copies of its outputs under ``out_dir``
    (meanwhile showing its progress on ``progress``, when given)."""
    following = progress_shown(world.services().runs, started.run_id, progress) if progress else contextlib.nullcontext()
    with following:
        world.wait(started.execution_arn)
    return _report(world, started.run_id, started.execution_arn, out_dir)


def run_file(world: LocalAws, path: Path, dataset: str | None, out_dir: Path, registry: DatasetRegistry, *,
             chunk_mb: float | None = None, progress: TextIO | None = None) -> RunReport:
    """Upload ``path`` to ``raw/<dataset>/``, run the state machine on it and report the run."""
    before = world.storm.counts()
    report = finish(world, start_file(world, path, dataset, registry, chunk_mb), out_dir, progress)
    after = world.storm.counts()
    report.faults_injected = {service: n - before.get(service, 0) for service, n in after.items() if n > before.get(service, 0)}
    return report


def _report(world: LocalAws, run_id: str, execution_arn: str, out_dir: Path) -> RunReport:
    sfn = world.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    item = world.services().runs.get(run_id)
    if item is not None:  # the failure handler may have failed for good: the execution's end wins
        item = reconciled(world.services(), item)
    run = run_view(item if item is not None else {r.RUN_ID: run_id})
    status = run["status"]
    if status not in TERMINAL_STATUSES:  # the execution ended without recording an outcome
        status = r.FAILED
    source, counts = run["source"], run["counts"]
    return RunReport(
        run_id=run_id,
        status=status,
        dataset=run["dataset"],
        source={"bucket": source["bucket"], "key": source["key"], "version": source["version"]},
        execution_arn=execution_arn,
        records_in=counts["in"] or 0,
        records_valid=counts["valid"] or 0,
        records_invalid=counts["invalid"] or 0,
        records_written=counts["written"] or 0,
        outputs=_download_outputs(world, (item or {}).get(r.OUTPUT_MANIFEST), out_dir),
        quarantine=_download(world, run["quarantine"], out_dir),
        dlq_messages=len(run["dlq_message_ids"]),
        reason=run["reason"],
        failed_state=run["failed_state"],
        error=run["error"],
        cause=run["cause"],
        states=[visit.to_dict() for visit in _timeline(world, events)],
        alerts=_alerts(world),
        quality=run["quality"],
        chunks=run["chunks"] or 0,
    )


def _timeline(world: LocalAws, events: list[dict[str, Any]]) -> list[StateVisit]:
    visits = timeline(events)
    attach_children(visits, world.services().executions)
    return visits


def _download(world: LocalAws, uri: str | None, out_dir: Path) -> str | None:
    if not uri:
        return None
    bucket, key = split_s3_uri(uri)
    target = out_dir / key
    target.parent.mkdir(parents=True, exist_ok=True)
    body = world.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    partial = target.with_name(target.name + ".part")  # a failed copy leaves no truncated output behind
    with body, open(partial, "wb") as local:
        shutil.copyfileobj(body, local, COPY_CHUNK_BYTES)
    partial.replace(target)
    return str(target)


def _download_outputs(world: LocalAws, manifest_uri: str | None, out_dir: Path) -> list[str]:
    if not manifest_uri:
        return []
    bucket, key = split_s3_uri(manifest_uri)
    manifest = json.loads(world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return [path for path in (_download(world, f"s3://{bucket}/{k}", out_dir) for k in manifest["files"]) if path]


def _alerts(world: LocalAws) -> list[str]:
    """Subjects of the notifications published so far (drained from the local inbox queue)."""
    sqs = world.client("sqs")
    subjects: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=world.inbox_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return subjects
        for message in messages:
            subjects.append(json.loads(message["Body"]).get("Subject", ""))
            sqs.delete_message(QueueUrl=world.inbox_url, ReceiptHandle=message["ReceiptHandle"])
