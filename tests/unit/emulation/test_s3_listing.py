"""Listing a key's versions answers as moto does, without copying any object's body."""
from __future__ import annotations

import gc
import tempfile
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from etl_local.emulation import s3_listing

BUCKET = "raw"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for body in (b"first", b"second, longer", b"third"):
            client.put_object(Bucket=BUCKET, Key="raw/t/a.jsonl", Body=body)
        client.delete_object(Bucket=BUCKET, Key="raw/t/a.jsonl")
        client.put_object(Bucket=BUCKET, Key="raw/t/a.jsonl", Body=b"after the delete marker")
        client.put_object(Bucket=BUCKET, Key="raw/t/a.jsonl.gz", Body=b"x" * 1_000_000)  # shares the prefix
        client.put_object(Bucket=BUCKET, Key="raw/t/b.jsonl", Body=b"another key")
        yield client


def _pages(s3, **kwargs):
    return [{field: page.get(field) for field in ("Versions", "DeleteMarkers", "IsTruncated", "NextKeyMarker")}
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, **kwargs)]


@pytest.mark.parametrize("kwargs", [{"Prefix": "raw/t/a.jsonl"}, {"Prefix": "raw/"},
                                    {"Prefix": "raw/t/a.jsonl", "PaginationConfig": {"PageSize": 2}}],
                         ids=["a key", "a prefix", "pages of two"])
def test_listing_answers_as_moto_does(s3, kwargs):
    # GIVEN moto's own answer
    expected = _pages(s3, **kwargs)
    # WHEN listed with the emulation's listing
    with s3_listing.installed():
        listed = _pages(s3, **kwargs)
    # THEN the same versions, delete markers, IsLatest flags and page markers
    assert listed == expected
    assert any(page["DeleteMarkers"] for page in listed)
    assert [v["IsLatest"] for page in listed for v in page["Versions"] if v["Key"] == "raw/t/a.jsonl"] == \
        [True, False, False, False]


def test_listing_reads_no_body(s3):
    # GIVEN a count of the buffers S3 bodies are copied into (moto keeps each body in a spooled file)
    with mock.patch("tempfile.SpooledTemporaryFile", wraps=tempfile.SpooledTemporaryFile) as body_buffers:
        # WHEN the versions are listed as moto lists them, then with the emulation's listing
        _pages(s3, Prefix="raw/t/a.jsonl")
        copied_by_moto = body_buffers.call_count
        body_buffers.reset_mock()
        with s3_listing.installed():
            _pages(s3, Prefix="raw/t/a.jsonl")
            gc.collect()  # the listing's views are gone: the bodies they read through must not be
    # THEN moto copied every version of every key in the bucket, the emulation none
    assert copied_by_moto == 6  # the four versions of a.jsonl, a.jsonl.gz and b.jsonl
    assert body_buffers.call_count == 0
    assert s3.get_object(Bucket=BUCKET, Key="raw/t/a.jsonl")["Body"].read() == b"after the delete marker"
