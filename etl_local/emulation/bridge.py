"""Lambda invocations in moto, answered by the Chalice functions in this process.

moto's Lambda model runs code in Docker.  Both of its invocation paths (the
Invoke API, used by ``lambda:invoke`` tasks, and direct calls from S3 and
EventBridge) end in ``LambdaFunction._invoke_lambda``, which this bridge
replaces.  An error becomes the payload AWS Lambda returns for an unhandled
exception, so Step Functions matches ``ErrorEquals`` on the class name.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

from chalicelib.config import FUNCTION_ENVIRONMENT
from etl_local.emulation.faults import LAMBDA_STATUS, Fault

Handler = Callable[[dict[str, Any], Any], Any]
# The function whose code is running in this thread (None: not a bridged function), for tests of permissions.
CURRENT_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_function", default=None)


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object the functions read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


def _run_here(step: str, handler: Handler, payload: Any, context: LambdaContext, environment: dict[str, str]) -> str:
    """The handler's result as JSON, run as ``step`` with the function's environment."""
    token = CURRENT_FUNCTION.set(step)
    environment_token = FUNCTION_ENVIRONMENT.set(environment)
    try:
        return json.dumps(handler(payload, context), default=str)
    finally:
        FUNCTION_ENVIRONMENT.reset(environment_token)
        CURRENT_FUNCTION.reset(token)


def _error_payload(error: Exception) -> str:
    """The payload AWS Lambda returns for an unhandled exception: its class name is what Retry matches."""
    return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error),
                       "stackTrace": traceback.format_exception(error)[-3:]})


def _lambda_error(code: str, message: str) -> JsonRESTError:
    """Lambda's own error answer (the function never ran): Step Functions reports it as ``Lambda.<code>``."""
    error = JsonRESTError(code, message)
    error.code = LAMBDA_STATUS.get(code, 500)
    return error


class LambdaBridge:
    """Dispatches moto Lambda invocations to in-process handlers.

    Parameters
    ----------
    handlers
        Function name (as created in moto) to ``handler(event, context)``.
    faults
        Faults to inject, keyed by step (the handler name without the app prefix).
    """

    def __init__(self, handlers: dict[str, tuple[str, Handler]], faults: list[Fault] | None = None) -> None:
        self._handlers = handlers
        self._by_handler = {f"app.{step}": (step, handler) for step, handler in handlers.values()}
        self._faults = {fault.step: fault for fault in faults or []}
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()
        self.invocations: list[tuple[str, str]] = []

    def _handler_of(self, function: LambdaFunction) -> tuple[str, Handler]:
        """By function name for the local runtime's functions; by handler (``app.<name>``) for deployed ones."""
        if function.function_name in self._handlers:
            return self._handlers[function.function_name]
        if function.handler in self._by_handler:
            return self._by_handler[function.handler]
        raise LookupError(f"no handler in app.py for {function.function_name} (handler {function.handler})")

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """Run the handler for ``function``; return (payload, errored, logs) as moto expects."""
        step, handler = self._handler_of(function)
        with self._lock:
            self._calls[step] = self._calls.get(step, 0) + 1
            attempt = self._calls[step]
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        context = LambdaContext(function.function_name, function.function_arn, int(function.memory_size or 128))
        # A deployed function has its own environment (resource names of its stack).
        environment = dict(function.environment_vars or {})
        fault = self._faults.get(step)
        injected = fault if fault is not None and attempt <= fault.times else None
        if injected is not None and injected.lambda_code is not None:
            raise _lambda_error(injected.lambda_code,
                                f"injected fault: Lambda answered the invocation of {step} with {injected.lambda_code}")
        try:
            if injected is not None:
                raise injected.exception()
            answer = _run_here(step, handler, payload, context, environment)
        except Exception as error:
            self.invocations.append((step, type(error).__name__))
            return _error_payload(error), True, ""
        self.invocations.append((step, "ok"))
        return answer, False, ""

    @contextlib.contextmanager
    def installed(self) -> Iterator[LambdaBridge]:
        bridge = self

        def _invoke_lambda(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return bridge.invoke(function, event)

        with mock.patch.object(LambdaFunction, "_invoke_lambda", _invoke_lambda):
            yield self
