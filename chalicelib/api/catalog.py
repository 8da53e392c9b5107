"""Routes for datasets, health and the OpenAPI document."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.openapi import openapi_document
from chalicelib.api.responses import handles_errors, json_response
from chalicelib.api.routes import iam
from chalicelib.control import catalog
from chalicelib.services import default_services

catalog_api = Blueprint(__name__)


@catalog_api.route("/datasets", methods=["GET"], authorizer=iam)
@handles_errors
def list_datasets() -> Response:
    return json_response(catalog.datasets_view(default_services()))


@catalog_api.route("/datasets/{name}", methods=["GET"], authorizer=iam)
@handles_errors
def show_dataset(name: str) -> Response:
    return json_response(catalog.dataset_view(default_services(), name))


@catalog_api.route("/health", methods=["GET"])
def health() -> Response:
    return json_response({"status": "ok"})


@catalog_api.route("/openapi.json", methods=["GET"], authorizer=iam)
@handles_errors
def openapi() -> Response:
    return json_response(openapi_document(catalog_api.current_app))
