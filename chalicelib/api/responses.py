"""JSON answers and the mapping of errors to status codes (no stack trace ever leaves)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chalice import Response

from chalicelib.control.errors import ConflictError, ControlError, InvalidRequestError, NotFoundError, UnprocessableError
from chalicelib.errors import ConfigurationError, TransientError
from chalicelib.observability import logger

_STATUS = {InvalidRequestError: 400, NotFoundError: 404, ConflictError: 409, UnprocessableError: 422}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": code, "message": message}, status, headers)


def handles_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the control plane's errors into JSON error answers with the right status."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ControlError as error:
            return error_response(_STATUS.get(type(error), 400), error.code, str(error))
        except ConfigurationError as error:
            logger.error("API misconfigured", extra={"error": str(error)})
            return error_response(503, "not_configured", str(error))
        except TransientError as error:
            logger.warning("API call failed transiently", extra={"error": str(error)})
            return error_response(503, "unavailable", "an AWS service is busy or unreachable; try again", {"Retry-After": "2"})
        except Exception:
            logger.exception("API request failed")
            return error_response(500, "internal", "an internal error occurred; the API function's log has the details")

    return wrapper


def cross_site(origin: str | None, host: str | None) -> bool:
    """Whether a browser sent the request from a page of another origin than the one it is addressed to.

    Browsers send ``Origin`` on cross-origin requests and on same-origin ones other than GET
    and HEAD; programs (curl, the CLI, SDKs) send none.  ``null`` (sandboxed and file pages)
    or any host but the request's own ``Host`` is another origin.  A page of a site whose
    name its owner points at 127.0.0.1 (DNS rebinding) passes this test: the local servers
    answer only loopback host names for that (:mod:`etl_local.local_guard`).
    """
    return bool(origin) and urlsplit(origin).netloc.lower() != (host or "").lower()


def refuse_web_pages(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice HTTP middleware: answer 403 to requests a web page of another origin made.

    Without this check any page a developer opens could POST to the unauthenticated
    local server (``/dlq/replay``, ``/redrive``).  The dashboard (``GET /``) is served by
    the API itself, so its calls are same-origin and pass.
    """
    if cross_site(request.headers.get("origin"), request.headers.get("host")):
        return error_response(403, "forbidden", "requests from web pages of other origins are refused (Origin header)")
    return get_response(request)
