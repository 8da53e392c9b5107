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


def ingested_key(run: RunRef) -> str:
    return f"{run['staging_prefix']}ingested.arrow"


def valid_key(run: RunRef) -> str:
    return f"{run['staging_prefix']}valid.arrow"


def transformed_key(run: RunRef) -> str:
    return f"{run['staging_prefix']}transformed.arrow"


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


def raw_key(dataset: str, name: str) -> str:
    """Where a source file of ``dataset`` is dropped."""
    return f"{RAW_PREFIX}{dataset}/{name}"
