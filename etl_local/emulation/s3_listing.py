"""S3's ``ListObjectVersions`` at the cost of a listing, not of the bucket's bytes.

moto's ``list_object_versions`` deep-copies every version of every key in the bucket before it
filters by prefix, only so that marking a copy ``IsLatest`` leaves the stored key alone; a deep
copy of a key reads its whole body into a new buffer.  Output lists the versions of its source key
to decide which version's outputs stand, so every run copied every raw file ever uploaded: 0.9 s
of a 1,000,000-record ``etl run`` (158 MB source), and a cost that grows with the raw bucket in a
long-lived ``etl serve``.  Here the copies are views that read through to the stored version and
hold their own ``is_latest``.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any
from unittest import mock

from moto.s3 import models


class _ListedVersion:
    """A stored key or delete marker as one listing sees it: its own ``is_latest``, everything else the stored one's."""

    def __init__(self, stored: Any) -> None:
        self._stored = stored
        self.is_latest = False  # set by the listing

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # the listing sorts keys from delete markers with isinstance
        return type(self._stored)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stored, name)


class _CopyForListing:
    """The ``copy`` module as ``moto.s3.models`` sees it: its one ``deepcopy`` (a listing's) makes views."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(versions: list[Any]) -> list[_ListedVersion]:
        return [_ListedVersion(version) for version in versions]


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """List object versions without copying their bodies."""
    with mock.patch.object(models, "copy", _CopyForListing):
        yield
