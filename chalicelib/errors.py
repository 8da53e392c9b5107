"""Error classes shared by every stage.

The state machine matches Lambda errors by their exception class name
(``errorType``), so these names are part of the contract with
``statemachines/etl.asl.json``: it retries :class:`TransientError` and never
retries a :class:`DataError`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

# Error codes AWS returns for throttling and server-side faults; retrying helps.
_TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
    }
)


class EtlError(Exception):
    """Base class of the pipeline's own errors."""


class TransientError(EtlError):
    """A fault that may succeed on retry (throttling, timeouts, 5xx)."""


class DataError(EtlError):
    """The input cannot be processed as it is; retrying will not help."""


class IntegrityError(EtlError):
    """Counts between stages do not add up: a bug, never retried."""


class ConfigurationError(EtlError):
    """The deployment is missing a setting or resource."""


@contextlib.contextmanager
def transient_aws_errors(action: str) -> Iterator[None]:
    """Re-raise throttling, 5xx and connection failures as :class:`TransientError`.

    Parameters
    ----------
    action
        What was being attempted, for the error message (``"s3 get raw/x.csv"``).
    """
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _TRANSIENT_CODES or status >= 500:
            raise TransientError(f"{action}: {code or status}: {error}") from error
        raise
    except (ConnectionError, ReadTimeoutError, IncompleteReadError, ResponseStreamingError) as error:
        raise TransientError(f"{action}: {error}") from error
