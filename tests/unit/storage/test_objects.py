"""Reads of an object's body: a connection that fails mid-read is a transient error the step retries."""
from __future__ import annotations

import io

import pytest
from botocore.exceptions import IncompleteReadError, ResponseStreamingError

from chalicelib.errors import TransientError
from chalicelib.storage.objects import ObjectStore


class Body:
    """A GetObject body that yields its bytes, then fails as botocore's does when the connection drops (given a failure)."""

    def __init__(self, data: bytes, failure: Exception | None = None) -> None:
        self._data, self._failure = io.BytesIO(data), failure
        self.closed = False

    def read(self, amount: int) -> bytes:
        chunk = self._data.read(amount)
        if not chunk and self._failure is not None:
            raise self._failure
        return chunk

    def close(self) -> None:
        self.closed = True


class Answering:
    def __init__(self, body: Body) -> None:
        self.body = body

    def get_object(self, **kwargs):
        return {"Body": self.body}


@pytest.mark.parametrize("failure", [ResponseStreamingError(error="Connection broken: reset by peer"),
                                     IncompleteReadError(actual_bytes=5, expected_bytes=9)])
def test_a_body_cut_short_while_read_is_a_transient_error_naming_the_object(failure):
    # GIVEN an object whose connection drops after its first bytes
    client = Answering(Body(b"line1", failure))
    stream = io.BufferedReader(ObjectStore(client).open_range("raw", "raw/transactions/a.jsonl", "v1", 10))
    # WHEN it is read to the end
    # THEN the step fails with TransientError (retried by the state machine), naming what was read
    with pytest.raises(TransientError, match=r"read s3://raw/raw/transactions/a.jsonl"):
        stream.read()
    stream.close()
    assert client.body.closed


def test_a_body_read_whole_is_passed_on_in_full():
    client = Answering(Body(b"line1\nline2\n"))
    with io.BufferedReader(ObjectStore(client).open_range("raw", "k")) as stream:
        assert stream.read() == b"line1\nline2\n"


def test_a_conditional_replace_refuses_a_document_changed_since_it_was_read(world, services):
    objects, bucket, key = services.objects, world.names.processed_bucket, "manifests/t/x.json"
    # GIVEN nothing there yet: creating it succeeds once
    assert objects.replace_json(bucket, key, {"run_id": "a"}, None) is True
    assert objects.replace_json(bucket, key, {"run_id": "b"}, None) is False
    # WHEN two writers read the same copy
    read, etag = objects.get_json_tagged(bucket, key)
    assert read == {"run_id": "a"}
    # THEN only the first of them replaces it
    assert objects.replace_json(bucket, key, {"run_id": "c"}, etag) is True
    assert objects.replace_json(bucket, key, {"run_id": "d"}, etag) is False
    assert objects.get_json(bucket, key) == {"run_id": "c"}
