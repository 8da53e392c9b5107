"""API Gateway imports moto refuses: the Swagger 2.0 document ``chalice deploy`` sends.

AWS's ImportRestApi and PutRestApi take Swagger 2.0 and OpenAPI 3.  moto 5.2.5 reads
``info.description`` without a default (a ``KeyError``, answered as a 500) and then
refuses anything but OpenAPI 3 (``InvalidOpenApiDocVersionException``), so ``chalice
deploy`` stops after creating the functions, and ``chalice delete`` then finds no API
to delete and removes nothing.  What moto reads of the document (paths, methods, their
responses and ``x-amazon-apigateway-integration``) is written alike in both versions,
so a Swagger 2.0 document is handed to moto labelled as OpenAPI 3, with the optional
description it expects.  moto cannot serve the routes either way: ``etl serve`` does.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

from moto.apigateway.models import APIGatewayBackend


def as_moto_reads_it(document: dict[str, Any]) -> dict[str, Any]:
    """The document with what moto insists on: an ``openapi`` 3 label and ``info.description``."""
    if "swagger" not in document:
        return document
    converted = {key: value for key, value in document.items() if key != "swagger"}
    converted["openapi"] = "3.0.1"
    converted["info"] = {"description": "", **document.get("info", {})}
    return converted


@contextlib.contextmanager
def installed() -> Iterator[None]:
    import_rest_api, put_rest_api = APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api

    def importing(backend: APIGatewayBackend, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        # Validation would judge the relabelled document by OpenAPI 3's rules: only an untouched one is validated.
        converted = as_moto_reads_it(api_doc)
        return import_rest_api(backend, converted, fail_on_warnings and converted is api_doc)

    def putting(backend: APIGatewayBackend, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool,
                mode: str = "merge") -> Any:
        converted = as_moto_reads_it(api_doc)
        return put_rest_api(backend, function_id, converted, fail_on_warnings and converted is api_doc, mode)

    with mock.patch.object(APIGatewayBackend, "import_rest_api", importing), \
            mock.patch.object(APIGatewayBackend, "put_rest_api", putting):
        yield
