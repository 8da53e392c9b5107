"""Publishing one version's Parquet files so that the newest version of each source key wins.

S3 delivers events at least once and in any order, and two versions of a key can
be processed at the same time.  Each version therefore writes files of its own
(named after the key and the version) listed in a manifest of its own under the
key's manifest prefix, and the manifest is written before the files, so no file
is ever in ``processed/`` without a manifest that lists it.  Once the files are
up, the run settles against the versions S3 lists for the key:

* a newer version has published too: this one is superseded, and removes its
  own files and manifest;
* otherwise it removes the files and manifests of every older version, and marks
  the runs that wrote them SUPERSEDED.

Every run settles after its own manifest is written, and S3 lists are strongly
consistent, so whichever run settles last sees the other's manifest: whatever
the order runs finish in, the newest version's files are the ones left.

Within one version (a replay of it, a redrive of an earlier run of it) the run
that started last owns the manifest: it is replaced only by a conditional write
against the copy read.  A run that finds it does not own it (when declaring, or
once its files are up) stands down: it removes its files the owner does not
list, and copies the owner's files back over the ones both list, as its own
copies may have landed last.  File names hold the plan's cuts
(:func:`chalicelib.identity.plan_tag`), so runs planned differently share no
name.  A version S3 no longer lists (its noncurrent copy expired) is older than
every listed one and never removes another's files.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.errors import TransientError
from chalicelib.identity import version_tag
from chalicelib.keys import legacy_manifest_key, manifest_key, manifest_prefix, pending_key, staging_prefix, version_tag_of
from chalicelib.payloads import RunRef
from chalicelib.services import Services
from chalicelib.storage.objects import s3_uri
from chalicelib.times import utc_timestamp

DECLARE_ATTEMPTS = 5  # conditional writes lost to other runs of the version before it counts as a transient fault


@dataclass(frozen=True)
class Published:
    """How a version's publication settled: its manifest, or why it was superseded."""

    manifest: str | None
    superseded: str | None  # why: a newer version published first, or a later run of the same version owns it


class Publisher:
    """One run's publication of its version's files.

    Parameters
    ----------
    keys
        The Parquet files the run writes in the processed bucket.
    records
        How many records they hold.
    """

    def __init__(self, services: Services, run: RunRef, dataset: str, source_id: str, keys: list[str], records: int) -> None:
        self._services, self._run, self._dataset, self._source_id = services, run, dataset, source_id
        self._keys, self._records = keys, records
        self._bucket = services.settings.processed_bucket
        self.tag = version_tag(run["source"]["version"], run["source"]["etag"])
        self._manifest = manifest_key(dataset, source_id, self.tag)

    def declare(self) -> Published | None:
        """Write this run's manifest before its files; ``None``, or how it ended when a later run of its version owns it.

        The manifest is replaced only if it is still the one read (a conditional write), so of two
        runs of a version declaring at once, the one that started later owns it whatever the order.
        """
        started = utc_timestamp(self._run["started_at"])
        document = {"run_id": self._run["run_id"], "started_at": started, "dataset": self._dataset,
                    "source": self._run["source"], "version_tag": self.tag, "records_written": self._records,
                    "files": self._keys}
        for _ in range(DECLARE_ATTEMPTS):
            earlier, etag = self._services.objects.get_json_tagged(self._bucket, self._manifest)
            earlier = earlier or {}
            if earlier.get("run_id") not in (None, self._run["run_id"]) and earlier.get("started_at", "") > started:
                self._stand_down(earlier)  # an earlier attempt of this run may have copied files
                return Published(manifest=None, superseded=f"{_later_run(earlier)}; this run wrote nothing")
            if self._services.objects.replace_json(self._bucket, self._manifest, document, etag):
                _delete(self._services, sorted(set(earlier.get("files", [])) - set(self._keys)))  # files a rerun no longer writes
                return None
        raise TransientError(f"run {self._run['run_id']}: the manifest {s3_uri(self._bucket, self._manifest)} changed "
                             f"under each of {DECLARE_ATTEMPTS} attempts to declare this run's files")

    def settle(self) -> Published:
        """Settle against the key's other versions, once this run's files are up."""
        source = self._run["source"]
        order = [version_tag(version, etag) for version, etag in self._services.objects.versions_newest_first(source["bucket"], source["key"])]
        rank = {t: i for i, t in enumerate(order)}
        # one listing finds the versions' manifests (<source_id>/<tag>.json) and a legacy one (<source_id>.json)
        legacy = legacy_manifest_key(self._dataset, self._source_id)
        listed = self._services.objects.list_keys(self._bucket, manifest_prefix(self._dataset, self._source_id).rstrip("/"))
        others = [m for m in listed if m not in (self._manifest, legacy)]
        mine = rank.get(self.tag)
        newer = [m for m in others if mine is None or rank.get(version_tag_of(m), len(order)) < mine]
        if newer:
            # its own files by its own list: a newer run that settled meanwhile may have removed this manifest already
            _delete(self._services, self._keys)
            self._retract([self._manifest], superseded_by=None)
            newest = version_tag_of(min(newer, key=lambda m: rank.get(version_tag_of(m), len(order))))
            where = s3_uri(source["bucket"], source["key"])
            return Published(manifest=None, superseded=f"a newer version of {where} (version tag {newest}) was published; "
                                                       "this run's files were removed")
        owner = self._services.objects.get_json(self._bucket, self._manifest)
        if owner is None or owner.get("run_id") != self._run["run_id"]:
            # Taken over while the files were copied: a later run of this version declared, or a newer version's
            # run retracted this manifest.
            self._stand_down(owner or {})
            why = _later_run(owner) if owner else "a newer version of the key was published and removed this run's manifest"
            return Published(manifest=None, superseded=f"{why}; this run's files were removed")
        self._retract([*others, *([legacy] if legacy in listed else [])], superseded_by=self.tag)
        return Published(manifest=s3_uri(self._bucket, self._manifest), superseded=None)

    def _stand_down(self, owner: dict[str, Any]) -> None:
        """Leave ``processed/`` as the manifest's owner has it: no file of this run's that the owner does not list, and
        the owner's own content in the files both list (this run's copies may have landed over the owner's)."""
        owned = set(owner.get("files", []))
        _delete(self._services, sorted(set(self._keys) - owned))
        shared = sorted(set(self._keys) & owned)
        if shared:
            self._services.objects.copy_all([(pending_key(staging_prefix(owner["run_id"]), key), key) for key in shared],
                                            self._bucket)

    def _retract(self, manifests: list[str], superseded_by: str | None) -> None:
        """Delete the files the manifests list, then the manifests; mark the runs that wrote them SUPERSEDED."""
        for manifest in manifests:
            document = self._services.objects.get_json(self._bucket, manifest) or {}
            _delete(self._services, document.get("files", []))
            if superseded_by is not None and document.get("run_id"):
                where = s3_uri(self._run["source"]["bucket"], self._run["source"]["key"])
                self._services.runs.mark_superseded(document["run_id"], reason=(
                    f"a newer version of {where} (version tag {superseded_by}, run {self._run['run_id']}) replaced its files"))
        _delete(self._services, manifests)


def _later_run(manifest: dict[str, Any]) -> str:
    return f"run {manifest['run_id']}, which began later, published this version of the key"


def _delete(services: Services, keys: list[str]) -> None:
    if keys:
        services.objects.delete(services.settings.processed_bucket, keys)
