"""Starting, listing, inspecting and redriving runs."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from chalicelib import run_record as r
from chalicelib.control.errors import ConflictError, InvalidRequestError, NotFoundError
from chalicelib.control.reconcile import reconciled
from chalicelib.datasets import UnknownDatasetError
from chalicelib.errors import DataError
from chalicelib.history import attach_children, timeline
from chalicelib.identity import dataset_from_key, requested_source, run_id_of
from chalicelib.run_record import RUN_STATUSES, RunView, run_view
from chalicelib.services import Services
from chalicelib.storage.executions import ENDED_UNSUCCESSFULLY, NotRedrivableError
from chalicelib.storage.objects import SourceNotFoundError, s3_uri, split_s3_uri
from chalicelib.storage.runs import InvalidPageTokenError
from chalicelib.times import utc_timestamp

MAX_PAGE = 100


class StartRequest(TypedDict, total=False):
    """Body of ``POST /runs`` (see ``schemas/api/start_run.schema.json``)."""

    key: str
    bucket: str
    dataset: str


@dataclass(frozen=True)
class StartedRun:
    """The run a start request maps to; ``created`` is False when it already existed."""

    run_id: str
    execution_arn: str
    created: bool
    run: dict[str, Any]


def known_dataset(services: Services, name: str) -> str:
    """``name`` when a schema exists for it; 400 otherwise."""
    try:
        services.datasets.get(name)
    except UnknownDatasetError as error:
        raise InvalidRequestError(str(error)) from error
    return name


def resolve_dataset(services: Services, key: str, dataset: str | None) -> str:
    """The dataset a run of ``key`` belongs to; 400 when it is unknown or cannot be told."""
    name = dataset or dataset_from_key(key)
    if name is None:
        raise InvalidRequestError(f"cannot tell the dataset of {key!r}: put it under raw/<dataset>/ or name the dataset")
    return known_dataset(services, name)


def start_run(
    services: Services, key: str, *, bucket: str | None = None, dataset: str | None = None,
    version: str | None = None, replay: str | None = None, replay_of: str | None = None,
) -> StartedRun:
    """Start a run for an object already in S3, or find the one it already has.

    The execution is named after the run id (bucket, key, object version or
    ETag, and the replay token if any), so repeating the request never starts
    a second execution.
    """
    raw_bucket = services.settings.raw_bucket
    if bucket not in (None, raw_bucket):
        raise InvalidRequestError(f"runs read from the raw bucket {raw_bucket!r} only, not {bucket!r}")
    bucket = raw_bucket
    dataset = resolve_dataset(services, key, dataset)
    try:
        source = services.objects.head(bucket, key, version)
    except SourceNotFoundError as error:
        raise NotFoundError(str(error)) from error
    run_id = run_id_of(source, replay)
    existing = services.runs.get(run_id)
    if existing is not None:
        return StartedRun(run_id, existing.get(r.EXECUTION_ARN, ""), created=False, run=dict(run_view(existing)))
    execution_input = {"bucket": bucket, "key": key, "version": source["version"], "dataset": dataset}
    if replay is not None:
        execution_input.update(replay=replay, replay_of=replay_of)
    started = services.executions.start(run_id, execution_input)
    return StartedRun(run_id, started.arn, started.created, describe_run(services, run_id))


def parse_since(text: str | None) -> str | None:
    """``since`` as the run table stores times; 400 unless RFC 3339 with a zone (or a date)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text if "T" in text else f"{text}T00:00:00+00:00")
        return utc_timestamp(moment)
    except ValueError as error:
        raise InvalidRequestError(f"since={text!r} is not an RFC 3339 time with a time zone, e.g. 2024-03-15T08:00:00Z") from error


def list_runs(
    services: Services, *, status: str | None = None, dataset: str | None = None, since: str | None = None,
    limit: int = 50, next_token: str | None = None,
) -> dict[str, Any]:
    """A page of runs, newest first: ``{"runs": [...], "next_token": ...}``."""
    if status is not None and status not in RUN_STATUSES:
        raise InvalidRequestError(f"status={status!r} is not one of {', '.join(RUN_STATUSES)}")
    if dataset is not None:
        known_dataset(services, dataset)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    try:
        page = services.runs.list(status=status, dataset=dataset, since=parse_since(since), limit=limit, next_token=next_token)
    except InvalidPageTokenError as error:
        raise InvalidRequestError(str(error)) from error
    # a run still RUNNING or WRITING whose execution ended is shown as its execution ended (one DescribeExecution each)
    return {"runs": [run_view(reconciled(services, item)) for item in page.runs], "next_token": page.next_token}


def _outputs(services: Services, manifest_uri: str | None) -> dict[str, Any]:
    if not manifest_uri:
        return {"manifest": None, "files": []}
    bucket, key = split_s3_uri(manifest_uri)
    manifest = services.objects.get_json(bucket, key) or {}
    return {"manifest": manifest_uri, "files": [s3_uri(bucket, k) for k in manifest.get("files", [])]}


def _pending_view(run_id: str, execution: dict[str, Any]) -> RunView:
    """A run whose execution started but has not recorded it yet (or never could)."""
    try:
        requested = requested_source(json.loads(execution.get("input") or "{}"))
        source = {r.SOURCE_BUCKET: requested.bucket, r.SOURCE_KEY: requested.key, r.SOURCE_VERSION: requested.version,
                  r.DATASET: requested.dataset or dataset_from_key(requested.key)}
    except (ValueError, DataError):
        source = {}
    status = execution["status"]
    return run_view({
        r.RUN_ID: run_id,
        r.EXECUTION_ARN: execution["executionArn"],
        r.STATUS: r.FAILED if status in ENDED_UNSUCCESSFULLY else r.SUCCEEDED if status == "SUCCEEDED" else r.RUNNING,
        r.STARTED_AT: utc_timestamp(execution["startDate"]),
        r.ERROR: execution.get("error"),
        r.CAUSE: execution.get("cause"),
        **source,
    })


def _find_run(services: Services, run_id: str) -> tuple[RunView, str | None]:
    """The run as the API shows it (without outputs) and its manifest; 404 when neither record nor execution exists."""
    item = services.runs.get(run_id)
    if item is not None:
        item = reconciled(services, item)
        return run_view(item), item.get(r.OUTPUT_MANIFEST)
    execution = services.executions.describe(services.executions.arn_of(run_id))
    if execution is None:
        raise NotFoundError(f"no run {run_id!r}")
    return _pending_view(run_id, execution), None


def describe_run(services: Services, run_id: str) -> dict[str, Any]:
    """Everything about one run: the run record, its outputs, its execution."""
    run, manifest = _find_run(services, run_id)
    return {**run, "outputs": _outputs(services, manifest)}


def run_history(services: Services, run_id: str) -> dict[str, Any]:
    """The run's timeline: each state entered, with times, attempts, retry waits and errors."""
    run, _ = _find_run(services, run_id)
    # the execution is named after the run, so its ARN is known even before the run recorded it
    execution_arn = run["execution_arn"] or services.executions.arn_of(run_id)
    events = services.executions.history(execution_arn)
    redrives = [utc_timestamp(e["timestamp"]) for e in events if e["type"] == "ExecutionRedriven"]
    visits = timeline(events)
    attach_children(visits, services.executions)
    return {"run_id": run_id, "execution_arn": execution_arn, "status": run["status"], "redrives": redrives,
            "states": [visit.to_dict() for visit in visits]}


def redrive_run(services: Services, run_id: str) -> dict[str, Any]:
    """Resume a FAILED run at the state that failed (Step Functions RedriveExecution).

    The run keeps its id and execution ARN; states that succeeded are not rerun.
    The run is marked RUNNING before the redrive (so the execution's own writes
    come after ours) and put back to FAILED if Step Functions refuses.
    """
    item = services.runs.get(run_id)
    if item is None:
        raise NotFoundError(f"no run {run_id!r}")
    item = reconciled(services, item)
    status = item.get(r.STATUS)
    if status != r.REDRIVABLE_STATUS:
        hint = " (a data problem: fix the data or schema, then replay its dead-letter message)" if status == r.REJECTED else ""
        raise ConflictError(f"run {run_id} is {status}; only {r.REDRIVABLE_STATUS} runs can be redriven{hint}")
    if not services.runs.begin_redrive(item) and not _began_by_us(services, item):
        raise ConflictError(f"run {run_id} changed while being redriven; look at it again")
    try:
        services.executions.redrive(item[r.EXECUTION_ARN])
    except Exception as error:
        if _redriven_anyway(services, item):  # the answer was lost after Step Functions redrove it
            return describe_run(services, run_id)
        # Whatever stopped the redrive (refusal, throttling, permissions), the run is still FAILED.
        services.runs.undo_redrive(item)
        if isinstance(error, NotRedrivableError):
            raise ConflictError(f"Step Functions will not redrive run {run_id}: {error}") from error
        raise
    return describe_run(services, run_id)


def _began_by_us(services: Services, item: r.RunItem) -> bool:
    """``begin_redrive``'s condition refused a write whose first attempt had already landed (its answer was lost).

    The run is then RUNNING with exactly one more redrive than ``item`` had, and its execution still stopped.
    """
    now = services.runs.get(item[r.RUN_ID]) or {}
    execution = services.executions.describe(item[r.EXECUTION_ARN]) or {}
    return (now.get(r.STATUS) == r.RUNNING and int(now.get(r.REDRIVE_COUNT) or 0) == int(item.get(r.REDRIVE_COUNT) or 0) + 1
            and execution.get("status") in ENDED_UNSUCCESSFULLY)


def _redriven_anyway(services: Services, item: r.RunItem) -> bool:
    """Step Functions resumed the execution although RedriveExecution's answer said otherwise (or never came)."""
    execution = services.executions.describe(item[r.EXECUTION_ARN]) or {}
    return execution.get("status") == "RUNNING"
