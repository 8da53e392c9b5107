"""Fault storms: a share of the AWS requests the pipeline sends fail as AWS requests fail.

``etl run --fault-rate P --fault-seed N`` (and ``etl serve``) make that share of
the HTTP requests of the functions and of the state machine's service
integrations (Lambda invocations, DynamoDB, SQS, SNS tasks) fail transiently:
throttled, a server error, a dropped connection, or an answer lost after the
work was done.  The harness's own calls (uploads, listings, waits) are never
touched.

Faults hit single requests, below botocore's retries, as AWS's faults do: the
functions' SDK retries most of them; what outlives its attempts becomes the
project's :class:`~chalicelib.errors.TransientError` and the state machine's
Retry (2/4/8 s).  The interpreter's clients do not retry (nor do Step Functions'
integrations), so their faults go straight to the Retry blocks of the ASL.  A
lost answer sends the request first, so retries meet work already done (a
second SQS message, a repeated write, a function run twice).
"""
from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from etl_local.emulation.bridge import CURRENT_FUNCTION
from etl_local.emulation.interpreter_clients import made_by_the_interpreter

KINDS = ("throttled", "server_error", "connection", "lost_answer")
# What each service answers when it throttles or fails (the codes its SDKs and Step Functions know).
_THROTTLED = {"lambda": ("TooManyRequestsException", 429), "s3": ("SlowDown", 503), "sqs": ("RequestThrottled", 403),
              "dynamodb": ("ProvisionedThroughputExceededException", 400), "sns": ("Throttling", 400),
              "states": ("ThrottlingException", 400)}
_SERVER_ERROR = {"lambda": ("ServiceException", 500), "dynamodb": ("InternalServerError", 500)}
Sent = tuple[tuple[AWSResponse, dict[str, Any]] | None, Exception | None]  # what Endpoint._do_get_response returns


class FaultStorm:
    """Decides, seeded, which requests fail and how; counts what it injected per service.

    Parameters
    ----------
    rate
        Share of the eligible requests that fail (0 to 1).
    seed
        Seeds the choices, each service's apart, so a storm can be replayed: the nth request to a service meets
        the same fate however the threads interleave the services' requests.
    """

    def __init__(self, rate: float, seed: int = 0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"a fault rate is a share between 0 and 1, not {rate}")
        self.rate, self._seed = rate, seed
        self._random: dict[str, random.Random] = {}  # per service
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def counts(self) -> dict[str, int]:
        """Faults injected so far, per service."""
        with self._lock:
            return dict(self.injected)

    def _strike(self, service: str) -> str | None:
        """The kind of fault this request gets, or ``None``."""
        with self._lock:
            draws = self._random.setdefault(service, random.Random(f"{self._seed}/{service}"))
            if draws.random() >= self.rate:
                return None
            self.injected[service] += 1
            return draws.choice(KINDS)

    def send(self, real: Callable[..., Sent], endpoint: Endpoint, request: Any, operation: Any, context: Any) -> Sent:
        """Send one HTTP request, or fail it as the storm decides."""
        eligible = CURRENT_FUNCTION.get() is not None or made_by_the_interpreter(endpoint)
        service = operation.service_model.endpoint_prefix
        kind = self._strike(service) if eligible else None
        if kind is None:
            return real(endpoint, request, operation, context)
        if kind == "lost_answer":
            real(endpoint, request, operation, context)
        if kind in ("lost_answer", "connection"):
            if not made_by_the_interpreter(endpoint):
                return None, (ConnectionClosedError if kind == "lost_answer" else EndpointConnectionError)(endpoint_url=request.url)
            # Step Functions reports its own client's failures as <Service>.SdkClientException (moto, given the
            # exception itself, would report States.Runtime, which no Retry matches on AWS either).
            code, status = "SdkClientException", 500
        else:
            code, status = (_THROTTLED if kind == "throttled" else _SERVER_ERROR).get(
                service, ("Throttling", 400) if kind == "throttled" else ("InternalError", 500))
        answer = AWSResponse(request.url, status, {}, _Body())
        parsed = {"Error": {"Code": code, "Message": f"injected by the fault storm ({kind})"},
                  "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "storm", "HTTPHeaders": {}}}
        return (answer, parsed), None

    @contextlib.contextmanager
    def installed(self) -> Iterator[FaultStorm]:
        storm, do_get_response = self, Endpoint._do_get_response

        def faulty(endpoint: Endpoint, request: Any, operation: Any, context: Any) -> Sent:
            return storm.send(do_get_response, endpoint, request, operation, context)

        with mock.patch.object(Endpoint, "_do_get_response", faulty):
            yield self


class _Body:
    """The empty body of an injected error answer."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""

    def read(self, *_: Any) -> bytes:
        return b""
