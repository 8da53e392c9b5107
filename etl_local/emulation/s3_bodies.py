"""S3 request bodies as sent, whatever their ``Content-Type``.

S3 stores the bytes of a ``PutObject`` whatever type they are labelled with, and it takes no
URL-encoded forms at all (browser uploads are ``multipart/form-data``).  moto reads a body
labelled ``application/x-www-form-urlencoded``, which ``curl --data-binary`` and Python's urllib
send by default, as a form: its S3 stored an empty object (and took the form's fields for query
parameters), and its server, which reads such a body of an unsigned request (a presigned URL)
to guess the service, put it back only when it decoded as UTF-8, so a gzip upload was lost before.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any
from unittest import mock

from moto.core.request import Request
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.s3.responses import S3Response

FORM = "application/x-www-form-urlencoded"


def _form_body(self: DomainDispatcherApplication, environ: dict[str, Any]) -> str | None:
    """moto's ``_get_body`` (a URL-encoded body as text, for guessing the service), leaving the bytes readable as they came."""
    if not environ.get("CONTENT_TYPE", "").startswith(FORM):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        return raw.decode("utf-8") or None
    except UnicodeDecodeError:
        return None


def _unparsed(setup_class: Any) -> Any:
    def setup(self: S3Response, request: Request, full_url: str | None = None, headers: Any = None) -> None:
        if request.mimetype == FORM:
            request.get_data()  # cached as sent, before the form parser can consume it
            # An empty form, stored the way werkzeug stores a parsed one, so nothing parses the body again.
            request.__dict__.update(form=request.parameter_storage_class(), files=request.parameter_storage_class())
        setup_class(self, request, full_url, headers)

    return setup


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Keep S3 bodies labelled as URL-encoded forms, in process and through the HTTP endpoint."""
    with mock.patch.object(DomainDispatcherApplication, "_get_body", _form_body), \
            mock.patch.object(S3Response, "setup_class", _unparsed(S3Response.setup_class)):
        yield
