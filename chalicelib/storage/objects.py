"""S3 access for the stages."""
from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, TypeVar, cast

import pyarrow as pa
from botocore.exceptions import ClientError

from chalicelib.errors import DataError, TransientError, transient_aws_errors
from chalicelib.payloads import SourceRef

T = TypeVar("T")
R = TypeVar("R")


class SourceNotFoundError(DataError):
    """The object (or object version) a run names does not exist."""


ZSTD = "zstd"  # Arrow's name of the codec of the parts and quarantine parts ingest and validate write
ZSTD_CONTENT_TYPE = "application/zstd"
SINGLE_PUT_BYTES = 64 << 20  # larger files go up in parts, in parallel, and can resume a part
UPLOAD_THREADS = 8


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _a_few_at_a_time(call: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``call`` on each item, ``UPLOAD_THREADS`` at a time (requests wait on the network, not the CPU), results in order."""
    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
        return list(pool.map(call, items))


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}


def zstd_decompressed(stream: io.RawIOBase) -> io.BufferedReader:
    """A buffered reader of the Zstandard stream ``stream`` (an object :meth:`ObjectStore.open_range` opened), decompressed."""
    return io.BufferedReader(cast(io.RawIOBase, pa.CompressedInputStream(pa.PythonFile(stream, mode="r"), ZSTD)))


class _Body(io.RawIOBase):
    """An object's body whose reads fail as :class:`TransientError` when the connection does (reset, timed out, cut short).

    A function reads a chunk for seconds; a connection dropped meanwhile is the
    commonest fault of a long GET, and a retry of the step reads it again.
    """

    def __init__(self, body: Any, action: str) -> None:
        self._body, self._action = body, action

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with transient_aws_errors(self._action):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class ObjectStore:
    """Reads and writes S3 objects.

    Parameters
    ----------
    client
        A boto3 S3 client.
    """

    def __init__(self, client: Any) -> None:
        self._s3 = client

    def head(self, bucket: str, key: str, version: str | None = None) -> SourceRef:
        """Pin ``key`` to one version and return its reference.

        Raises
        ------
        SourceNotFoundError
            When the object or the requested version does not exist.
        """
        args = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        try:
            with transient_aws_errors(f"head s3://{bucket}/{key}"):
                meta = self._s3.head_object(**args)
        except ClientError as error:
            if _is_missing(error):
                what = f"version {version} of " if version else ""
                raise SourceNotFoundError(f"{what}s3://{bucket}/{key} does not exist") from error
            raise
        return SourceRef(
            bucket=bucket,
            key=key,
            version=meta.get("VersionId") if meta.get("VersionId") not in (None, "null") else None,
            etag=meta.get("ETag", "").strip('"') or None,
            size=int(meta.get("ContentLength", 0)),
        )

    def upload_url(self, bucket: str, key: str, expires_seconds: int) -> str:
        """A presigned URL that lets its holder PUT ``key`` (the bucket's default encryption applies)."""
        return self._s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds, HttpMethod="PUT"
        )

    def open(self, source: SourceRef) -> io.RawIOBase:
        """Stream the pinned object version (the caller closes the stream; botocore's body reads like a raw stream)."""
        return self.open_range(source["bucket"], source["key"], source["version"])

    def open_range(self, bucket: str, key: str, version: str | None = None, first: int = 0,
                   last: int | None = None) -> io.RawIOBase:
        """Stream bytes ``first`` to ``last`` (inclusive; to the end when ``None``) of an object (version).

        Raises
        ------
        SourceNotFoundError
            When the object or the version does not exist.
        """
        args = {"Bucket": bucket, "Key": key}
        if version:
            args["VersionId"] = version
        if first or last is not None:
            args["Range"] = f"bytes={first}-{'' if last is None else last}"
        try:
            with transient_aws_errors(f"get s3://{bucket}/{key}"):
                return _Body(self._s3.get_object(**args)["Body"], f"read s3://{bucket}/{key}")
        except ClientError as error:
            if _is_missing(error):
                raise SourceNotFoundError(f"s3://{bucket}/{key} does not exist") from error
            raise

    def download(self, bucket: str, key: str, path: str) -> None:
        with transient_aws_errors(f"download s3://{bucket}/{key}"):
            self._s3.download_file(bucket, key, path)

    def upload(self, path: str, bucket: str, key: str, content_type: str) -> None:
        """Upload a local file: one PUT when small, a multipart upload (s3transfer) when large."""
        with transient_aws_errors(f"upload s3://{bucket}/{key}"):
            if os.path.getsize(path) <= SINGLE_PUT_BYTES:
                with open(path, "rb") as body:
                    self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
            else:
                self._s3.upload_file(path, bucket, key, ExtraArgs={"ContentType": content_type})

    def upload_all(self, files: list[tuple[str, str]], bucket: str, content_type: str) -> None:
        """Upload ``(path, key)`` pairs a few at a time: each PUT waits on the network, not the CPU."""
        _a_few_at_a_time(lambda file: self.upload(file[0], bucket, file[1], content_type), files)

    def put_json(self, bucket: str, key: str, document: Any, **condition: str) -> None:
        body = json.dumps(document, indent=1, sort_keys=True).encode()
        with transient_aws_errors(f"put s3://{bucket}/{key}"):
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition)

    def replace_json(self, bucket: str, key: str, document: Any, read_etag: str | None) -> bool:
        """Write ``document`` only if the object is still the one read (``read_etag``; ``None``: there was none).

        Returns ``False`` when another writer came first (S3's conditional writes: 412, or 409 for a
        conflicting write in flight), so the caller reads again and decides again.
        """
        try:
            self.put_json(bucket, key, document, **({"IfMatch": read_etag} if read_etag else {"IfNoneMatch": "*"}))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"PreconditionFailed", "ConditionalRequestConflict"}:
                return False
            raise
        return True

    def upload_stream(self, stream: BinaryIO, bucket: str, key: str, content_type: str) -> None:
        """Upload what ``stream`` yields, in parts as it comes (no local file, memory of a few parts)."""
        with transient_aws_errors(f"upload s3://{bucket}/{key}"):
            self._s3.upload_fileobj(stream, bucket, key, ExtraArgs={"ContentType": content_type})

    def copy_all(self, pairs: list[tuple[str, str]], bucket: str) -> None:
        """Copy ``(source key, target key)`` pairs within ``bucket`` on S3's side, a few at a time (no bytes through here)."""
        def copy(source: str, target: str) -> None:
            with transient_aws_errors(f"copy s3://{bucket}/{source} to {target}"):
                self._s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})

        _a_few_at_a_time(lambda pair: copy(*pair), pairs)

    def get_json(self, bucket: str, key: str) -> Any | None:
        """Return the parsed object, or ``None`` when it does not exist."""
        return self.get_json_tagged(bucket, key)[0]

    def get_json_tagged(self, bucket: str, key: str) -> tuple[Any | None, str | None]:
        """The parsed object and its ETag (for :meth:`replace_json`), or ``(None, None)`` when it does not exist."""
        try:
            with transient_aws_errors(f"get s3://{bucket}/{key}"):
                answer = self._s3.get_object(Bucket=bucket, Key=key)
                body = answer["Body"].read()
        except ClientError as error:
            if _is_missing(error):
                return None, None
            raise
        return json.loads(body), answer["ETag"]

    def get_json_all(self, bucket: str, keys: list[str]) -> list[Any | None]:
        """:meth:`get_json` of each key, in order, a few at a time."""
        return _a_few_at_a_time(lambda key: self.get_json(bucket, key), keys)

    def versions_newest_first(self, bucket: str, key: str) -> list[tuple[str | None, str]]:
        """``(version id, ETag)`` of every version of ``key``, newest first (``None`` ids: an unversioned bucket).

        S3 lists a key's versions in the order they were written, which is the
        order the pipeline's outputs must follow; delete markers are not versions
        of any content and are left out.
        """
        versions: list[tuple[str | None, str]] = []
        with transient_aws_errors(f"list versions of s3://{bucket}/{key}"):
            for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
                versions += [(None if v["VersionId"] == "null" else v["VersionId"], v["ETag"].strip('"'))
                             for v in page.get("Versions", []) if v["Key"] == key]
        return versions

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        with transient_aws_errors(f"list s3://{bucket}/{prefix}"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def delete(self, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            with transient_aws_errors(f"delete {len(chunk)} objects from s3://{bucket}"):
                answer = self._s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            # DeleteObjects answers 200 and lists the keys it could not delete (SlowDown, InternalError, ...)
            if answer.get("Errors"):
                failed = answer["Errors"]
                raise TransientError(f"delete from s3://{bucket}: {len(failed)} keys not deleted, e.g. "
                                     f"{failed[0].get('Key')}: {failed[0].get('Code')}")
