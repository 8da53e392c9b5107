"""The OpenAPI 3.1 document of the API, built from the app's own route table.

Each route's summary, parameters and answers are described here once; a test
checks that this table and the routes Chalice registered are the same set.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chalice import Chalice

from chalicelib.api.documents import components

_ERROR = "Error"
_JSON = "application/json"


# Any route refuses browsers' cross-site requests (403), may fail unexpectedly (500), or find AWS
# unavailable or itself misconfigured (503).
COMMON_RESPONSES = {403: _ERROR, 500: _ERROR, 503: _ERROR}


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    responses: dict[int, str]  # status -> schema name ("" for no body)
    request: str | None = None
    query: dict[str, str] = field(default_factory=dict)  # name -> description
    media_type: str = _JSON  # of the answers without a schema; errors are always JSON

    @property
    def all_responses(self) -> dict[int, str]:
        return {**self.responses, **COMMON_RESPONSES}


ROUTE_DOCS: dict[tuple[str, str], RouteDoc] = {
    ("GET", "/"): RouteDoc(
        "The operator dashboard: a static page (no data) whose script calls the routes below", {200: ""},
        media_type="text/html"),
    ("POST", "/runs"): RouteDoc(
        "Start a run for an object already in the raw bucket (idempotent per object version)",
        {202: "Run", 200: "Run", 400: _ERROR, 404: _ERROR, 422: _ERROR}, request="StartRun"),
    ("POST", "/uploads"): RouteDoc(
        "Get a presigned PUT URL into raw/<dataset>/; the upload starts a run",
        {201: "Upload", 400: _ERROR, 422: _ERROR}, request="CreateUpload"),
    ("GET", "/runs"): RouteDoc(
        "List runs, newest first", {200: "RunPage", 400: _ERROR},
        query={"status": "RUNNING, WRITING, SUCCEEDED, REJECTED or FAILED", "dataset": "dataset name",
               "since": "RFC 3339 time or date; runs started at or after it", "limit": "1-100, default 50",
               "next_token": "from the previous page"}),
    ("GET", "/runs/{run_id}"): RouteDoc("Show one run", {200: "Run", 404: _ERROR}),
    ("GET", "/runs/{run_id}/history"): RouteDoc(
        "The run's timeline: states, times, attempts, retry waits, errors", {200: "RunHistory", 404: _ERROR}),
    ("POST", "/runs/{run_id}/redrive"): RouteDoc(
        "Redrive a FAILED run from the state that failed", {202: "Run", 404: _ERROR, 409: _ERROR}),
    ("GET", "/dlq"): RouteDoc(
        "Peek at dead-letter messages without consuming them", {200: "DeadLetterPage", 400: _ERROR},
        query={"limit": "1-100, default 10"}),
    ("POST", "/dlq/replay"): RouteDoc(
        "Start a fresh run for each message's source object; delete each message once its run started",
        {200: "ReplayResult", 400: _ERROR, 422: _ERROR}, request="ReplayDeadLetters"),
    ("GET", "/datasets"): RouteDoc("The datasets, with schema and transform settings", {200: "DatasetList"}),
    ("GET", "/datasets/{name}"): RouteDoc("One dataset", {200: "Dataset", 404: _ERROR}),
    ("GET", "/health"): RouteDoc("Liveness (no authorization)", {200: "Health"}),
    ("GET", "/openapi.json"): RouteDoc("This document", {200: ""}),
}

_PATH_PARAM = re.compile(r"\{([^}]+)\}")
_SIGV4 = "sigv4"


def _ref(schema: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _response(schema: str, doc: RouteDoc) -> dict[str, Any]:
    if schema:
        return {"description": schema, "content": {_JSON: {"schema": _ref(schema)}}}
    body = {"type": "object"} if doc.media_type == _JSON else {"type": "string"}
    return {"description": doc.summary, "content": {doc.media_type: {"schema": body}}}


def _operation(path: str, method: str, doc: RouteDoc, authorized: bool) -> dict[str, Any]:
    parameters = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in _PATH_PARAM.findall(path)]
    parameters += [{"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
                   for n, d in doc.query.items()]
    operation: dict[str, Any] = {
        "operationId": method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", path).rstrip("_"),
        "summary": doc.summary,
        "responses": {str(status): _response(schema, doc) for status, schema in doc.all_responses.items()},
        "security": [{_SIGV4: []}] if authorized else [],
    }
    if parameters:
        operation["parameters"] = parameters
    if doc.request:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(doc.request)}}}
    return operation


def openapi_document(app: Chalice) -> dict[str, Any]:
    """The document for every route ``app`` defines.

    Raises
    ------
    KeyError
        When a route has no entry in :data:`ROUTE_DOCS`.
    """
    paths: dict[str, dict[str, Any]] = {}
    for path, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            doc = ROUTE_DOCS[(method, path)]
            paths.setdefault(path, {})[method.lower()] = _operation(path, method, doc, entry.authorizer is not None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "serverless-etl",
            "version": "1",
            "description": "Trigger, list and inspect ETL runs, redrive failures and replay dead letters.",
        },
        "paths": paths,
        "components": {
            "schemas": {name: {k: v for k, v in schema.items() if k != "$schema"} for name, schema in components().items()},
            "securitySchemes": {_SIGV4: {"type": "apiKey", "name": "Authorization", "in": "header",
                                         "description": "AWS Signature Version 4 (API Gateway IAM authorization)",
                                         "x-amazon-apigateway-authtype": "awsSigv4"}},
        },
    }
