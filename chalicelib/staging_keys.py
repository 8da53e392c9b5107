"""Where each stage leaves its records, derived from the run so nothing extra travels."""
from __future__ import annotations

from chalicelib.payloads import RunRef

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


def manifest_key(dataset: str, source_id: str) -> str:
    return f"{MANIFEST_ROOT}/{dataset}/{source_id}.json"


def processed_prefix(dataset: str) -> str:
    return f"{PROCESSED_ROOT}/{dataset}/"
