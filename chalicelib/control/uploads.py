"""Presigned uploads into the raw bucket."""
from __future__ import annotations

from typing import Any

from chalicelib.control.runs import known_dataset
from chalicelib.identity import RAW_PREFIX
from chalicelib.services import Services

UPLOAD_URL_SECONDS = 900


def upload_url(services: Services, dataset: str, filename: str) -> dict[str, Any]:
    """A URL to PUT a file to ``raw/<dataset>/<filename>``; the upload starts a run as any S3 drop does.

    ``filename`` was checked against ``schemas/api/CreateUpload.schema.json``
    (one path segment, no control characters).
    """
    key = f"{RAW_PREFIX}{known_dataset(services, dataset)}/{filename}"
    bucket = services.settings.raw_bucket
    return {
        "url": services.objects.upload_url(bucket, key, UPLOAD_URL_SECONDS),
        "method": "PUT",
        "bucket": bucket,
        "key": key,
        "expires_in_seconds": UPLOAD_URL_SECONDS,
    }
