"""Helpers shared by the blueprints: authorization, request bodies, query parameters."""
from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, IAMAuthorizer

from chalicelib.api.documents import checked_body
from chalicelib.control.errors import InvalidRequestError

# Every route but /health requires SigV4-signed requests from a principal allowed
# execute-api:Invoke.  The local server admits everything (it binds to 127.0.0.1).
iam = IAMAuthorizer()

# Accept a JSON body whatever the client calls it (curl -d sends form encoding);
# Chalice would otherwise answer 415 in its own error format.
BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]


def request_body(blueprint: Blueprint, schema: str) -> dict[str, Any]:
    raw = blueprint.current_request.raw_body or b""
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as error:
        raise InvalidRequestError(f"the request body is not JSON: {error}") from error
    return checked_body(body, schema)


def query(blueprint: Blueprint) -> dict[str, str]:
    return dict(blueprint.current_request.query_params or {})


def int_param(params: dict[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError as error:
        raise InvalidRequestError(f"{name}={text!r} is not an integer") from error
