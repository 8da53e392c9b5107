"""Runtime configuration: the one place environment variables are read."""
from __future__ import annotations

import contextvars
import os
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.errors import ConfigurationError

# Schemas live at the project root; Chalice ships them to the Lambda task root
# through the ``vendor/schemas`` symlink, which lands at the same relative place.
DEFAULT_SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


# Measured defaults (bench/README.md): a chunk this size fits every function's memory, /tmp and
# timeout with room to spare (infra/limits.py derives it; tests/unit/infra/test_limits.py holds the two equal).
DEFAULT_CHUNK_MB = 64.0
DEFAULT_CHUNK_CONCURRENCY = 10
# The largest chunk a run may ask for (every chunk function fits it: the same test), and the most chunks
# a file may make: each adds to the run record's set of validated chunks and to the Map's results.
MAX_CHUNK_MB = 100.0
MAX_CHUNKS = 5_000


def chunk_mb_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a chunk size in megabytes, or ``None`` when it is a usable one."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_CHUNK_MB:
        return f"chunk_mb must be a number of megabytes above 0 and at most {MAX_CHUNK_MB:g}, got {value!r}"
    return None


def _chunk_mb(env: Mapping[str, str]) -> float:
    chunk_mb: float = _positive(env, "CHUNK_MB", float, DEFAULT_CHUNK_MB)
    problem = chunk_mb_problem(chunk_mb)
    if problem is not None:
        raise ConfigurationError(f"CHUNK_MB: {problem}")
    return chunk_mb


def chunk_concurrency_in(env: Mapping[str, str]) -> int:
    """How many chunks of one run the Map processes at once, as ``env`` sets it (``CHUNK_CONCURRENCY``)."""
    return int(_positive(env, "CHUNK_CONCURRENCY", int, DEFAULT_CHUNK_CONCURRENCY))


def _positive(env: Mapping[str, str], name: str, kind: type[float] | type[int], default: float) -> Any:
    text = env.get(name)
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigurationError(f"{name}={text!r} must be a positive number")
    return value


# On Lambda, os.environ is the function's environment.  The local runtime runs several functions in
# one process and sets each invocation's own variables here (they take precedence over os.environ).
FUNCTION_ENVIRONMENT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("function_environment", default=None)


@dataclass(frozen=True)
class Settings:
    """Names of the resources the functions use.

    Attributes
    ----------
    raw_bucket
        Bucket that receives source files under ``raw/<dataset>/``.
    processed_bucket
        Bucket for Parquet output, quarantine, manifests and staging.
    runs_table
        DynamoDB table holding one item per run.
    alerts_topic_arn
        SNS topic for failure alerts (empty: alerts are only logged).
    state_machine_arn
        The ETL state machine; failure events of other machines are ignored (empty: none are).
        The API starts and redrives its executions.
    dead_letter_queue_url
        The SQS dead-letter queue the API peeks at and replays (empty: those routes answer 503).
    schemas_dir
        Folder with ``<dataset>.schema.json`` and ``<dataset>.transform.json``.
    chunk_mb
        Megabytes of source per chunk when neither the run nor its dataset says (``CHUNK_MB``).
    chunk_concurrency
        How many chunks of one run the Map processes at once (``CHUNK_CONCURRENCY``).
    endpoint_url
        The AWS endpoint every client calls (``AWS_ENDPOINT_URL``, as the SDK reads it; empty: AWS).
        Part of the settings so that clients built for one endpoint are never reused for another.
    """

    raw_bucket: str
    processed_bucket: str
    runs_table: str
    alerts_topic_arn: str = ""
    state_machine_arn: str = ""
    dead_letter_queue_url: str = ""
    schemas_dir: Path = DEFAULT_SCHEMAS_DIR
    chunk_mb: float = DEFAULT_CHUNK_MB
    chunk_concurrency: int = DEFAULT_CHUNK_CONCURRENCY
    endpoint_url: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = environ if environ is not None else ChainMap(FUNCTION_ENVIRONMENT.get() or {}, os.environ)
        missing = [n for n in ("RAW_BUCKET", "PROCESSED_BUCKET", "RUNS_TABLE") if not env.get(n)]
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            raw_bucket=env["RAW_BUCKET"],
            processed_bucket=env["PROCESSED_BUCKET"],
            runs_table=env["RUNS_TABLE"],
            alerts_topic_arn=env.get("ALERTS_TOPIC_ARN", ""),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", ""),
            schemas_dir=Path(env.get("SCHEMAS_DIR") or DEFAULT_SCHEMAS_DIR),
            chunk_mb=_chunk_mb(env),
            chunk_concurrency=chunk_concurrency_in(env),
            endpoint_url=env.get("AWS_ENDPOINT_URL", ""),
        )
