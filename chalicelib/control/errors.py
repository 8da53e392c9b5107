"""Errors of the control plane; the API turns each into a status code and a JSON body."""
from __future__ import annotations


class ControlError(Exception):
    """Base class; ``code`` is the stable ``error`` field of the API's answer."""

    code = "error"


class InvalidRequestError(ControlError):
    """The request is malformed or names something that cannot exist (400)."""

    code = "invalid_request"


class NotFoundError(ControlError):
    """The run, object or dataset does not exist (404)."""

    code = "not_found"


class ConflictError(ControlError):
    """The request is valid but the run's state does not allow it (409)."""

    code = "conflict"


class UnprocessableError(ControlError):
    """The body is JSON but breaks its request schema (422)."""

    code = "unprocessable"
