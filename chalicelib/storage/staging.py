"""Arrow IPC files in S3 that carry records from one stage to the next."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from chalicelib.errors import IntegrityError
from chalicelib.storage.objects import ObjectStore

ARROW_CONTENT_TYPE = "application/vnd.apache.arrow.file"
# Zstandard at its fastest level: staged files are about half LZ4's size, and moving
# bytes through S3 costs more than compressing them (1M records: 150 MB vs 270 MB).
WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression=pa.Codec("zstd", compression_level=1))


@contextlib.contextmanager
def _temp_path(suffix: str) -> Iterator[str]:
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class StagingStore:
    """Writes and reads staged record batches under one bucket.

    Files are written locally (Lambda's ``/tmp``) batch by batch and uploaded
    once complete, so memory holds one batch at a time.
    """

    def __init__(self, objects: ObjectStore, bucket: str) -> None:
        self._objects = objects
        self.bucket = bucket

    def chunk_documents(self, keys: list[str], what: str) -> list[Any]:
        """The JSON document each chunk left at ``keys``, in chunk order.

        Raises
        ------
        IntegrityError
            When a chunk left none (its step did not finish), naming one that did not.
        """
        documents = self._objects.get_json_all(self.bucket, keys)
        missing = [key for key, document in zip(keys, documents) if document is None]
        if missing:
            raise IntegrityError(f"{len(missing)} chunk(s) left no {what}, e.g. s3://{self.bucket}/{missing[0]}")
        return documents

    @contextlib.contextmanager
    def writer(self, key: str, schema: pa.Schema) -> Iterator[pa.ipc.RecordBatchFileWriter]:
        """Yield an Arrow file writer; the file is uploaded when the block exits cleanly."""
        with _temp_path(".arrow") as path:
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, schema, options=WRITE_OPTIONS) as writer:
                yield writer
            self._objects.upload(path, self.bucket, key, ARROW_CONTENT_TYPE)

    @contextlib.contextmanager
    def reader(self, key: str) -> Iterator[pa.ipc.RecordBatchFileReader]:
        """Download a staged file and yield a reader that loads one batch at a time."""
        with _temp_path(".arrow") as path:
            self._objects.download(self.bucket, key, path)
            with pa.OSFile(path) as source:
                yield pa.ipc.open_file(source)


def iter_batches(reader: pa.ipc.RecordBatchFileReader) -> Iterator[pa.RecordBatch]:
    for index in range(reader.num_record_batches):
        yield reader.get_batch(index)
