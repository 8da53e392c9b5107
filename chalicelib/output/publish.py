"""Publishing one version's Parquet files so that the newest version of each source key wins.

S3 delivers events at least once and in any order, and two versions of a key can
be processed at the same time.  Each version therefore writes files of its own
(named after the key and the version) and a manifest of its own under the key's
manifest prefix.  Then it settles, against the versions S3 lists for the key:

* a newer version has published too: this one is superseded, and removes its
  own files and manifest;
* otherwise it removes the files and manifests of every older version.

Every run settles after its own files and manifest are written, and S3 lists are
strongly consistent, so whichever run settles last sees the other's manifest:
whatever the order runs finish in, the newest version's files are the ones left.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.identity import version_tag
from chalicelib.keys import legacy_manifest_key, manifest_key, manifest_prefix, version_tag_of
from chalicelib.payloads import RunRef
from chalicelib.services import Services
from chalicelib.storage.objects import s3_uri


@dataclass(frozen=True)
class Published:
    """How a version's publication settled: its manifest, or why it was superseded."""

    manifest: str | None
    superseded_by: str | None  # the newer version's tag


def output_stem(source_id: str, tag: str) -> str:
    """The file name stem of one version's Parquet files (``<stem>-<n>.parquet``)."""
    return f"{source_id}-{tag}"


def publish(services: Services, run: RunRef, dataset: str, source_id: str, keys: list[str], records: int) -> Published:
    """Record this version's files in its manifest and settle against the key's other versions.

    Parameters
    ----------
    keys
        The Parquet files this run wrote in the processed bucket.
    records
        How many records they hold.
    """
    bucket, source = services.settings.processed_bucket, run["source"]
    tag = version_tag(source["version"], source["etag"])
    manifest = manifest_key(dataset, source_id, tag)
    earlier = services.objects.get_json(bucket, manifest) or {}  # a rerun of this version: files it no longer writes
    services.objects.put_json(bucket, manifest, {
        "run_id": run["run_id"], "dataset": dataset, "source": source, "version_tag": tag,
        "records_written": records, "files": keys,
    })
    _delete_files(services, sorted(set(earlier.get("files", [])) - set(keys)))
    order = [version_tag(version, etag) for version, etag in services.objects.versions_newest_first(source["bucket"], source["key"])]
    rank = {t: i for i, t in enumerate(order)}
    unknown = len(order)  # a version S3 no longer lists (expired) is older than every listed one
    mine = rank.get(tag, unknown)
    others = [m for m in services.objects.list_keys(bucket, manifest_prefix(dataset, source_id)) if m != manifest]
    newer = [m for m in others if rank.get(version_tag_of(m), unknown) < mine]
    if newer:
        _retract(services, [manifest])
        return Published(manifest=None, superseded_by=version_tag_of(min(newer, key=lambda m: rank[version_tag_of(m)])))
    older = [m for m in others if rank.get(version_tag_of(m), unknown) > mine or version_tag_of(m) not in rank]
    legacy = legacy_manifest_key(dataset, source_id)
    _retract(services, [*older, *([legacy] if services.objects.get_json(bucket, legacy) is not None else [])])
    return Published(manifest=s3_uri(bucket, manifest), superseded_by=None)


def _retract(services: Services, manifests: list[str]) -> None:
    """Delete the files the manifests list, then the manifests."""
    bucket = services.settings.processed_bucket
    for manifest in manifests:
        _delete_files(services, (services.objects.get_json(bucket, manifest) or {}).get("files", []))
    _delete_files(services, manifests)


def _delete_files(services: Services, keys: list[str]) -> None:
    if keys:
        services.objects.delete(services.settings.processed_bucket, keys)
