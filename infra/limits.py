"""What a chunk costs each function that runs once per chunk, measured, and the chunk size the project defaults to.

Lambda gives a function a memory size (and CPU in proportion: 1,769 MB buys one
vCPU), a timeout, and 512 MB of ``/tmp`` unless told otherwise (neither Chalice
nor the template changes it).  The costs below were measured with
``python -m bench.invocations`` (every invocation of a run in a fresh process,
``bench/README.md``) on transactions files of 245 MB and 955 MB (JSON Lines, gzip
and CSV) cut into chunks of 32, 64 and 128 MB, on the 2-vCPU x86_64 machine the table there names, and are
fitted as a fixed part plus a part per megabyte of source in the chunk, rounded
up.  A function fits a chunk when its peak memory stays within 80 % of its
memory size, its ``/tmp`` within the ephemeral storage, and its estimated time
on AWS (local CPU seconds divided by its vCPU share) within half its timeout.
The default chunk is the largest power of two at most a quarter of the largest
chunk every chunk function fits: the margin covers files slower than the
benchmark's (wider records, more invalid ones, which go to ``jsonschema``).
``tests/unit/infra/test_limits.py`` holds ``chalicelib.config.DEFAULT_CHUNK_MB``
to it, and the configuration to the limits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from chalicelib.steps import CHUNK_STEPS, TRANSFORM, VALIDATE
from infra.chalice_project import function_config

FULL_VCPU_MB = 1769
EPHEMERAL_STORAGE_MB = 512
MEMORY_SHARE, TIMEOUT_SHARE = 0.8, 0.5
DEFAULT_MARGIN = 4


@dataclass(frozen=True)
class ChunkCost:
    """One invocation's cost for a chunk of ``chunk_mb`` megabytes of source."""

    rss_mb: float  # peak resident memory: the cold start's imports, and the buffers a chunk needs
    rss_mb_per_mb: float
    tmp_mb_per_mb: float  # the most /tmp holds at once
    cpu_seconds: float  # of the handler, on the measuring machine
    cpu_seconds_per_mb: float

    def rss(self, chunk_mb: float) -> float:
        return self.rss_mb + self.rss_mb_per_mb * chunk_mb

    def tmp(self, chunk_mb: float) -> float:
        return self.tmp_mb_per_mb * chunk_mb

    def cpu(self, chunk_mb: float) -> float:
        return self.cpu_seconds + self.cpu_seconds_per_mb * chunk_mb


MEASURED: dict[str, ChunkCost] = {
    VALIDATE.function: ChunkCost(rss_mb=310, rss_mb_per_mb=0.35, tmp_mb_per_mb=0.45, cpu_seconds=0.6, cpu_seconds_per_mb=0.04),
    TRANSFORM.function: ChunkCost(rss_mb=220, rss_mb_per_mb=0.5, tmp_mb_per_mb=0.95, cpu_seconds=0.1, cpu_seconds_per_mb=0.011),
}


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


def estimated_aws_seconds(function: str, chunk_mb: float, stage: str = "prod") -> float:
    return MEASURED[function].cpu(chunk_mb) / limits(function, stage).vcpu_share


def breaches(function: str, chunk_mb: float, stage: str = "prod") -> list[str]:
    """What a chunk of ``chunk_mb`` would exceed in ``function`` (empty when it fits)."""
    cost, limit = MEASURED[function], limits(function, stage)
    found = []
    if cost.rss(chunk_mb) > MEMORY_SHARE * limit.memory_mb:
        found.append(f"{function}: {cost.rss(chunk_mb):.0f} MB of memory, above {MEMORY_SHARE:.0%} of {limit.memory_mb} MB")
    if cost.tmp(chunk_mb) > limit.ephemeral_mb:
        found.append(f"{function}: {cost.tmp(chunk_mb):.0f} MB of /tmp, above its {limit.ephemeral_mb} MB")
    seconds = estimated_aws_seconds(function, chunk_mb, stage)
    if seconds > TIMEOUT_SHARE * limit.timeout_seconds:
        found.append(f"{function}: about {seconds:.0f} s on AWS, above {TIMEOUT_SHARE:.0%} of its {limit.timeout_seconds} s timeout")
    return found


def largest_chunk_mb(function: str, stage: str = "prod") -> float:
    """The largest chunk ``function`` fits in ``stage``."""
    cost, limit = MEASURED[function], limits(function, stage)
    return min(
        (MEMORY_SHARE * limit.memory_mb - cost.rss_mb) / cost.rss_mb_per_mb,
        limit.ephemeral_mb / cost.tmp_mb_per_mb,
        (TIMEOUT_SHARE * limit.timeout_seconds * limit.vcpu_share - cost.cpu_seconds) / cost.cpu_seconds_per_mb,
    )


def default_chunk_mb(stage: str = "prod") -> float:
    """The largest power of two at most a quarter of the largest chunk every chunk function fits."""
    fitting = min(largest_chunk_mb(step.function, stage) for step in CHUNK_STEPS)
    return float(2 ** math.floor(math.log2(fitting / DEFAULT_MARGIN)))
