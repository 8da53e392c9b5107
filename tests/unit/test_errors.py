"""Which AWS faults are transient (retried by the state machine) and which are not."""
from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

from chalicelib.errors import TRANSIENT_ERROR_CODES, TRANSIENT_EXCEPTIONS, TransientError, transient_aws_errors


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize("fault", [
    ConnectionClosedError(endpoint_url="https://s3"),
    ReadTimeoutError(endpoint_url="https://s3"),
    ConnectTimeoutError(endpoint_url="https://s3"),
    EndpointConnectionError(endpoint_url="https://s3"),
    IncompleteReadError(actual_bytes=1, expected_bytes=2),
    ResponseStreamingError(error="reset"),
    client_error("SlowDown", 503),
    client_error("ThrottlingException", 400),
    client_error("ProvisionedThroughputExceededException", 400),
    client_error("Whatever", 500),
    client_error("", 429),
], ids=lambda fault: type(fault).__name__ + (fault.response["Error"]["Code"] if isinstance(fault, ClientError) else ""))
def test_what_means_try_again_is_transient(fault):
    with pytest.raises(TransientError, match="put x"), transient_aws_errors("put x"):
        raise fault


@pytest.mark.parametrize("fault", [client_error("AccessDenied", 403), client_error("ValidationException", 400), KeyError("k")])
def test_everything_else_is_left_as_it_is(fault):
    with pytest.raises(type(fault)), transient_aws_errors("put x"):
        raise fault


def test_no_code_or_exception_botocore_retries_is_missing():
    assert set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) <= TRANSIENT_ERROR_CODES
    assert set(TransientRetryableChecker._TRANSIENT_ERROR_CODES) <= TRANSIENT_ERROR_CODES
    assert all(issubclass(cls, TRANSIENT_EXCEPTIONS) for cls in TransientRetryableChecker._TRANSIENT_EXCEPTION_CLS)
