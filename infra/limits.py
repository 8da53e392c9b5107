"""What an invocation costs each pipeline function, measured, the chunk size the project defaults to, and the largest file.

Lambda gives a function a memory size (and CPU in proportion: 1,769 MB buys one
vCPU), a timeout, and 512 MB of ``/tmp`` unless told otherwise (neither Chalice
nor the template changes it).  The costs below were measured with
``python -m bench.invocations`` (every invocation of a run in a fresh process,
``bench/README.md``) on transactions files of 6,060,606 records (955 MB of JSON
Lines, the same gzipped, 494 MB of CSV, 961 MB as one JSON array, 2 % invalid),
of 245 MB cut into chunks of 32, 64 and 128 MB, and of CSV whose every record is
invalid, on the 2-vCPU x86_64 machine the table there names.  Each is fitted as
a fixed part plus a part per megabyte of source the invocation handles (a chunk
for validate and transform, the whole file for ingest and the verdict), rounded
up, from the costliest input for each figure: for validate's CPU, CSV whose every
record is invalid (each goes to ``jsonschema``, twice the records per megabyte of
JSON Lines); for validate's memory, JSON Lines; for transform, CSV; for ingest, a
JSON array (it parses every record to cut the array into parts); for the
verdict, CSV (its memory grows with the records, whose keys it counts).

A function fits an invocation when its peak memory stays within 80 % of its
memory size, its ``/tmp`` within the ephemeral storage, and its estimated time
on AWS (local CPU seconds divided by its vCPU share) within half its timeout.
The default chunk is the largest power of two every chunk function fits with
the costliest input: a chunk of ordinary records costs a fraction of that
(64 MB of CSV with 2 % invalid: an estimated 17 s of validate's 300).
``tests/unit/infra/test_limits.py`` holds ``chalicelib.config.DEFAULT_CHUNK_MB``
to it, and the configuration to a 1 GB file of any format.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from chalicelib.steps import CHUNK_STEPS, INGEST, TRANSFORM, VALIDATE, VERDICT
from infra.chalice_project import function_config

FULL_VCPU_MB = 1769
EPHEMERAL_STORAGE_MB = 512
MEMORY_SHARE, TIMEOUT_SHARE = 0.8, 0.5
LARGEST_FILE_MB = 1024  # every format: the size the limits are stated for (a test holds the stage to it)


@dataclass(frozen=True)
class Cost:
    """One invocation's cost for ``mb`` megabytes of source (a chunk, or the whole file)."""

    rss_mb: float  # peak resident memory: the cold start's imports, and the buffers the source needs
    rss_mb_per_mb: float
    tmp_mb_per_mb: float  # the most /tmp holds at once
    cpu_seconds: float  # of the handler, on the measuring machine
    cpu_seconds_per_mb: float

    def rss(self, mb: float) -> float:
        return self.rss_mb + self.rss_mb_per_mb * mb

    def tmp(self, mb: float) -> float:
        return self.tmp_mb_per_mb * mb

    def cpu(self, mb: float) -> float:
        return self.cpu_seconds + self.cpu_seconds_per_mb * mb


MEASURED: dict[str, Cost] = {
    # per megabyte of the chunk
    VALIDATE.function: Cost(rss_mb=310, rss_mb_per_mb=0.35, tmp_mb_per_mb=1.0, cpu_seconds=0.6, cpu_seconds_per_mb=0.72),
    TRANSFORM.function: Cost(rss_mb=220, rss_mb_per_mb=0.5, tmp_mb_per_mb=2.15, cpu_seconds=0.1, cpu_seconds_per_mb=0.018),
    # per megabyte of the file
    INGEST.function: Cost(rss_mb=190, rss_mb_per_mb=0.0, tmp_mb_per_mb=0.02, cpu_seconds=0.1, cpu_seconds_per_mb=0.072),
    VERDICT.function: Cost(rss_mb=190, rss_mb_per_mb=0.75, tmp_mb_per_mb=0.01, cpu_seconds=0.1, cpu_seconds_per_mb=0.005),
}
WHOLE_FILE_FUNCTIONS = (INGEST.function, VERDICT.function)


@dataclass(frozen=True)
class Limits:
    """A function's limits in a stage."""

    memory_mb: int
    timeout_seconds: int
    ephemeral_mb: int = EPHEMERAL_STORAGE_MB

    @property
    def vcpu_share(self) -> float:
        return min(1.0, self.memory_mb / FULL_VCPU_MB)


def limits(function: str, stage: str = "prod") -> Limits:
    config = function_config(stage, function)
    return Limits(config.lambda_memory_size, config.lambda_timeout)


def estimated_aws_seconds(function: str, mb: float, stage: str = "prod") -> float:
    return MEASURED[function].cpu(mb) / limits(function, stage).vcpu_share


def breaches(function: str, mb: float, stage: str = "prod") -> list[str]:
    """What ``mb`` megabytes of source would exceed in ``function`` (empty when it fits)."""
    cost, limit = MEASURED[function], limits(function, stage)
    found = []
    if cost.rss(mb) > MEMORY_SHARE * limit.memory_mb:
        found.append(f"{function}: {cost.rss(mb):.0f} MB of memory, above {MEMORY_SHARE:.0%} of {limit.memory_mb} MB")
    if cost.tmp(mb) > limit.ephemeral_mb:
        found.append(f"{function}: {cost.tmp(mb):.0f} MB of /tmp, above its {limit.ephemeral_mb} MB")
    seconds = estimated_aws_seconds(function, mb, stage)
    if seconds > TIMEOUT_SHARE * limit.timeout_seconds:
        found.append(f"{function}: about {seconds:.0f} s on AWS, above {TIMEOUT_SHARE:.0%} of its {limit.timeout_seconds} s timeout")
    return found


def largest_mb(function: str, stage: str = "prod") -> float:
    """The most megabytes of source (a chunk, or a file) one invocation of ``function`` fits in ``stage``."""
    cost, limit = MEASURED[function], limits(function, stage)
    bounds = [limit.ephemeral_mb / cost.tmp_mb_per_mb,
              (TIMEOUT_SHARE * limit.timeout_seconds * limit.vcpu_share - cost.cpu_seconds) / cost.cpu_seconds_per_mb]
    if cost.rss_mb_per_mb:
        bounds.append((MEMORY_SHARE * limit.memory_mb - cost.rss_mb) / cost.rss_mb_per_mb)
    return min(bounds)


def default_chunk_mb(stage: str = "prod") -> float:
    """The largest power of two every chunk function fits, with the costliest input measured."""
    fitting = min(largest_mb(step.function, stage) for step in CHUNK_STEPS)
    return float(2 ** math.floor(math.log2(fitting)))


def largest_file_mb(stage: str = "prod") -> float:
    """The largest file the functions that handle a whole file fit, in the costliest format."""
    return min(largest_mb(function, stage) for function in WHOLE_FILE_FUNCTIONS)
