"""Error classes shared by every stage.

The state machine matches Lambda errors by their exception class name
(``errorType``), so these names are part of the contract with
``statemachines/etl.asl.json``: it retries :class:`TransientError` and never
retries a :class:`DataError`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

# What "try again" looks like, in one place.  Error codes: the union of botocore's standard retry
# mode (throttling and transient codes) and the services' own 5xx codes; a test checks that none of
# botocore's is missing.  Botocore retries these itself first; once they outlive its attempts, the
# state machine's Retry (2/4/8 s) gets its turn through TransientError.
TRANSIENT_ERROR_CODES = frozenset(
    {
        # throttling
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        # server-side faults and timeouts
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
TRANSIENT_STATUS_CODES = frozenset({429, 500, 502, 503, 504})  # and any other 5xx
# Connection failures, timeouts and bodies cut short: ConnectionError covers EndpointConnectionError,
# ConnectTimeoutError, ProxyConnectionError; HTTPClientError covers ConnectionClosedError,
# ReadTimeoutError, ResponseStreamingError.
TRANSIENT_EXCEPTIONS: tuple[type[Exception], ...] = (ConnectionError, HTTPClientError, IncompleteReadError)


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


def rejection_reason(error: DataError, where: str) -> str:
    """Why a file was rejected, as the run record, the dead letter and the notification say it."""
    return f"{type(error).__name__}: {where}: {error}"


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
        if code in TRANSIENT_ERROR_CODES or status in TRANSIENT_STATUS_CODES or status >= 500:
            raise TransientError(f"{action}: {code or status}: {error}") from error
        raise
    except TRANSIENT_EXCEPTIONS as error:
        raise TransientError(f"{action}: {error}") from error
