"""Naming of runs and sources: deterministic, so duplicates are detectable."""
from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa

from chalicelib.config import chunk_mb_problem
from chalicelib.errors import DataError
from chalicelib.keys import RAW_PREFIX
from chalicelib.payloads import ChunkRef, SourceRef

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class InvalidRunInputError(DataError):
    """The execution input names no S3 object."""


@dataclass(frozen=True)
class RequestedSource:
    """What an execution input asks for: an object and optionally a dataset."""

    bucket: str
    key: str
    version: str | None = None
    dataset: str | None = None
    replay: str | None = None  # set when an operator deliberately reruns an object version
    replay_of: str | None = None  # the run that replay reruns
    chunk_mb: float | None = None  # megabytes of source per chunk, for this run only


def requested_source(payload: dict[str, Any]) -> RequestedSource:
    """Read the object reference from an execution input.

    Accepts the pipeline's own shape ``{"bucket", "key", "version"?, "dataset"?,
    "replay"?}`` and the EventBridge "Object Created" event S3 sends, so the
    EventBridge rule needs no input transformer.
    """
    if payload.get("detail-type") == "Object Created" and isinstance(payload.get("detail"), dict):
        detail = payload["detail"]
        return RequestedSource(
            bucket=detail["bucket"]["name"],
            key=detail["object"]["key"],
            version=detail["object"].get("version-id"),
        )
    bucket, key = payload.get("bucket"), payload.get("key")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise InvalidRunInputError(
            f"execution input must name an S3 object as {{'bucket': ..., 'key': ...}} "
            f"or be an EventBridge 'Object Created' event; got keys {sorted(payload)}"
        )
    chunk_mb = payload.get("chunk_mb")
    problem = None if chunk_mb is None else chunk_mb_problem(chunk_mb)
    if problem is not None:
        raise InvalidRunInputError(problem)
    return RequestedSource(
        bucket, key, payload.get("version") or None, payload.get("dataset") or None,
        payload.get("replay") or None, payload.get("replay_of") or None, chunk_mb,
    )


def dataset_from_key(key: str) -> str | None:
    """``raw/<dataset>/...`` names the dataset; any other key names none."""
    parts = key.split("/")
    if key.startswith(RAW_PREFIX) and len(parts) >= 3 and parts[1]:
        return parts[1]
    return None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def run_id_for(bucket: str, key: str, version_or_etag: str, replay: str | None = None) -> str:
    """Run id of one object version: readable prefix plus a stable hash.

    The same object version always gets the same id, which doubles as the
    Step Functions execution name (at most 80 characters of ``[A-Za-z0-9_-]``).
    A replay (a deliberate rerun, e.g. of a dead-letter message after a schema
    fix) names itself with a token, so each replay is one run of its own and
    repeating the same replay finds that run again.
    """
    stem = _UNSAFE.sub("-", PurePosixPath(key).name.split(".")[0]).strip("-")[:40] or "run"
    parts = (bucket, key, version_or_etag) if replay is None else (bucket, key, version_or_etag, "replay", replay)
    return f"{stem}-{_digest(*parts)[:16]}"


def run_id_of(source: SourceRef, replay: str | None = None) -> str:
    """Run id of a pinned source (see :func:`run_id_for`)."""
    return run_id_for(source["bucket"], source["key"], source["version"] or source["etag"] or "", replay)


def version_tag(version: str | None, etag: str | None) -> str:
    """Short stable id of one version of a source (its version id, else its ETag), used to name its outputs."""
    return _digest(version or etag or "")[:12]


def plan_tag(chunks: list[ChunkRef], chunk_bytes: int) -> str:
    """Short stable id of where a plan cuts its source, used to name its outputs.

    Two runs of one version planned with different chunk sizes put different records in their
    chunk ``i``: named alike, one run's file could overwrite the other's under the other's manifest.
    The chunk size is part of it: gzip parts carry no offsets or counts of their own.
    """
    return _digest(str(chunk_bytes), *(f"{c['start']}:{c['end']}:{c['lines']}:{c['records']}" for c in chunks))[:8]


def source_id_for(bucket: str, key: str) -> str:
    """Stable id of a source key across versions, used to name its outputs."""
    return _digest(bucket, key)[:16]


def _utf8_values(strings: pa.Array) -> Iterator[memoryview]:
    """Each string's UTF-8 bytes where Arrow holds them: slices of its data buffer, no Python str per value.

    Converting a million strings to Python objects costs more than hashing them.
    """
    if strings.type != pa.string():  # the offsets read below are int32
        raise TypeError(f"values are hashed from a string array, not {strings.type}")
    _, offsets_buffer, data_buffer = strings.buffers()
    start = strings.offset
    offsets = memoryview(offsets_buffer).cast("i")[start : start + len(strings) + 1]  # Arrow: little-endian int32
    data = memoryview(data_buffer if data_buffer is not None else b"")
    return (data[begin:end] for begin, end in itertools.pairwise(offsets))


def record_ids(canonical_json: pa.StringArray) -> pa.StringArray:
    """Hex SHA-256 of each record's RFC 8785 serialization."""
    if canonical_json.null_count:
        raise ValueError("every valid record has its RFC 8785 text")
    sha256 = hashlib.sha256
    return pa.array([sha256(value).hexdigest() for value in _utf8_values(canonical_json)], pa.string())
