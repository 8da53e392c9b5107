"""The API's JSON Schemas (``schemas/api/``): request validation and the OpenAPI components."""
from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from chalicelib.config import DEFAULT_SCHEMAS_DIR
from chalicelib.control.errors import InvalidRequestError, UnprocessableError

API_SCHEMAS_DIR = DEFAULT_SCHEMAS_DIR / "api"
_SUFFIX = ".schema.json"


@lru_cache(maxsize=1)
def components(directory: Path = API_SCHEMAS_DIR) -> dict[str, dict[str, Any]]:
    """Every API schema by name (file ``<Name>.schema.json``); they refer to each other as
    ``#/components/schemas/<Name>``, as in the OpenAPI document."""
    return {path.name[: -len(_SUFFIX)]: json.loads(path.read_text()) for path in sorted(directory.glob(f"*{_SUFFIX}"))}


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for schema ``name`` that resolves ``#/components/schemas/...``."""
    document = {"$schema": Draft202012Validator.META_SCHEMA["$id"], "components": {"schemas": components()},
                "$ref": f"#/components/schemas/{name}"}
    return Draft202012Validator(document, format_checker=Draft202012Validator.FORMAT_CHECKER)


def checked_body(body: Any, schema: str) -> dict[str, Any]:
    """Return ``body`` when it satisfies ``schema``; otherwise 422 naming the field and the rule."""
    if body is None:
        raise InvalidRequestError(f"the request needs a JSON body ({schema})")
    error = next(iter(sorted(validator(schema).iter_errors(body), key=lambda e: e.path)), None)
    if error is not None:
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise UnprocessableError(f"{where}: {error.message} ({error.validator})")
    return body
