"""Every key prefix the pipeline uses, and where each stage leaves its records.

Keys are derived from the run so nothing extra travels between states.  The raw
bucket takes sources under ``raw/<dataset>/``; the processed bucket holds the
rest under the roots below.
"""
from __future__ import annotations

from chalicelib.payloads import RunRef

RAW_ROOT = "raw"
RAW_PREFIX = f"{RAW_ROOT}/"  # sources: raw/<dataset>/<file>
STAGING_ROOT = "staging"
QUARANTINE_ROOT = "quarantine"
MANIFEST_ROOT = "manifests"
PROCESSED_ROOT = "processed"


def staging_prefix(run_id: str) -> str:
    return f"{STAGING_ROOT}/{run_id}/"


def plan_key(run: RunRef) -> str:
    """The run's chunk plan: the JSON array the Map reads."""
    return f"{run['staging_prefix']}plan.json"


def part_key(run: RunRef, index: int, suffix: str) -> str:
    """A part ingest wrote for chunk ``index`` of a file that cannot be cut by byte range."""
    return f"{run['staging_prefix']}parts/{index:05d}{suffix}"


def _chunk_prefix(run: RunRef, index: int) -> str:
    return f"{run['staging_prefix']}chunks/{index:05d}/"


def valid_key(run: RunRef, index: int) -> str:
    """Chunk ``index``'s valid records, typed, as validate hands them to transform."""
    return f"{_chunk_prefix(run, index)}valid.arrow"


def chunk_quarantine_key(run: RunRef, index: int) -> str:
    """Chunk ``index``'s invalid records (Zstandard JSON Lines), numbered within the chunk until the verdict numbers them in the file."""
    return f"{_chunk_prefix(run, index)}quarantine.jsonl.zst"


def chunk_keys_key(run: RunRef, index: int) -> str:
    """The distinct values of the dataset's key in chunk ``index`` (for the run's duplicate share)."""
    return f"{_chunk_prefix(run, index)}keys.arrow"


def validated_key(run: RunRef, index: int) -> str:
    """What validate found in chunk ``index`` (counts, reasons, quality), for the verdict."""
    return f"{_chunk_prefix(run, index)}validated.json"


def transformed_key(run: RunRef, index: int) -> str:
    """The Parquet files transform wrote for chunk ``index``, for the verdict and output."""
    return f"{_chunk_prefix(run, index)}transformed.json"


def pending_key(run_staging_prefix: str, final_key: str) -> str:
    """Where a Parquet file of the run staging under ``run_staging_prefix`` waits, outside ``processed/``, until
    output publishes it at ``final_key``."""
    return f"{run_staging_prefix}pending/{final_key}"


def quarantine_key(run: RunRef) -> str:
    return f"{QUARANTINE_ROOT}/{run['dataset']}/{run['run_id']}.jsonl"


def manifest_prefix(dataset: str, source_id: str) -> str:
    """Where the manifests of every version of one source key are: one per version it published."""
    return f"{MANIFEST_ROOT}/{dataset}/{source_id}/"


def manifest_key(dataset: str, source_id: str, version_tag: str) -> str:
    return f"{manifest_prefix(dataset, source_id)}{version_tag}.json"


def version_tag_of(manifest: str) -> str:
    """The version tag a :func:`manifest_key` names."""
    return manifest.rsplit("/", 1)[-1].removesuffix(".json")


def legacy_manifest_key(dataset: str, source_id: str) -> str:
    """The one manifest per source key that outputs had before each version got its own."""
    return f"{MANIFEST_ROOT}/{dataset}/{source_id}.json"


def processed_prefix(dataset: str) -> str:
    return f"{PROCESSED_ROOT}/{dataset}/"


def output_stem(source_id: str, version_tag: str, plan_tag: str, chunk: int) -> str:
    """The name stem of the Parquet files one chunk of one version of a source writes (``<stem>-<n>.parquet``).

    Without a plan tag (a redrive of a run planned before names held it), the names that run wrote before.
    """
    return "-".join(part for part in (source_id, version_tag, plan_tag, f"{chunk:05d}") if part)


def raw_key(dataset: str, name: str) -> str:
    """Where a source file of ``dataset`` is dropped."""
    return f"{RAW_PREFIX}{dataset}/{name}"
