"""Request parsing and error answers of the API, without AWS: bodies, query parameters, status codes."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from chalicelib.api.documents import checked_body
from chalicelib.api.responses import error_response, handles_errors, refuse_web_pages
from chalicelib.api.routes import int_param, request_body
from chalicelib.control.errors import ConflictError, InvalidRequestError, NotFoundError, UnprocessableError
from chalicelib.errors import ConfigurationError, TransientError


def blueprint_with_body(raw: bytes) -> SimpleNamespace:
    return SimpleNamespace(current_request=SimpleNamespace(raw_body=raw))


def test_a_body_is_checked_against_its_schema_naming_the_field_and_rule():
    assert request_body(blueprint_with_body(b'{"key": "raw/transactions/t.csv"}'), "StartRun") == {"key": "raw/transactions/t.csv"}
    with pytest.raises(UnprocessableError, match=r"\$\.key: 5 is not of type 'string' \(type\)"):
        checked_body({"key": 5}, "StartRun")
    with pytest.raises(InvalidRequestError, match="not JSON"):
        request_body(blueprint_with_body(b"{nope"), "StartRun")
    with pytest.raises(InvalidRequestError, match="needs a JSON body"):
        request_body(blueprint_with_body(b"  "), "StartRun")


def test_integer_parameters():
    assert int_param({}, "limit", 50) == 50 and int_param({"limit": "7"}, "limit", 50) == 7
    with pytest.raises(InvalidRequestError, match="limit='ten' is not an integer"):
        int_param({"limit": "ten"}, "limit", 50)


@pytest.mark.parametrize(("error", "status", "code"), [
    (InvalidRequestError("x"), 400, "invalid_request"),
    (NotFoundError("x"), 404, "not_found"),
    (ConflictError("x"), 409, "conflict"),
    (UnprocessableError("x"), 422, "unprocessable"),
    (ConfigurationError("x"), 503, "not_configured"),
    (TransientError("x"), 503, "unavailable"),
    (KeyError("secret internals"), 500, "internal"),
])
def test_errors_become_json_answers_with_their_status_and_no_internals(error, status, code):
    def view() -> None:
        raise error

    response = handles_errors(view)()
    assert response.status_code == status and response.body["error"] == code
    assert "secret internals" not in json.dumps(response.body)
    if isinstance(error, TransientError):
        assert response.headers["Retry-After"] == "2"


def test_requests_from_web_pages_are_refused_and_others_pass():
    passed = error_response(200, "ok", "passed")
    refused = refuse_web_pages(SimpleNamespace(headers={"origin": "https://evil.example"}), lambda request: passed)
    assert refused.status_code == 403
    assert refuse_web_pages(SimpleNamespace(headers={}), lambda request: passed) is passed
