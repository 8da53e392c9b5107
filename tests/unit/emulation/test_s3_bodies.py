"""S3 stores a body labelled as a URL-encoded form byte for byte, as AWS does (urllib and curl -d label bodies so).

In process here; through the HTTP endpoint (where a presigned PUT of bytes that are not UTF-8 was lost
before S3 saw it) in ``tests/functional/test_serve.py``.
"""
from __future__ import annotations

import gzip

import pytest

from etl_local.emulation import s3_bodies

FORM = "application/x-www-form-urlencoded"
# Text that parses as a form (with an `acl` field, an S3 subresource) and bytes that are not UTF-8.
BODIES = {"text": b'{"id": 1}\n{"id": 2, "note": "a=b&acl=private"}\n', "gzip": gzip.compress(b'{"id": 1}\n')}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES)
def test_put_object_labelled_as_a_form_keeps_its_bytes(world, body):
    s3, bucket, key = world.client("s3"), world.names.raw_bucket, "raw/transactions/t.jsonl"
    with s3_bodies.installed():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=FORM)
        stored = s3.get_object(Bucket=bucket, Key=key)
    assert (stored["Body"].read(), stored["ContentType"]) == (body, FORM)
