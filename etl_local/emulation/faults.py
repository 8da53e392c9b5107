"""Errors injected into the pipeline's steps (``etl run --fail``, ``etl serve --fail``).

Kept apart from the Lambda bridge that raises them, so the command line can parse ``--fail``
without loading moto.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass

from chalicelib import errors as project_errors

LAMBDA_PREFIX = "Lambda."  # an error Lambda itself answers the invocation with, before the function runs
LAMBDA_STATUS = {"TooManyRequestsException": 429}  # other Lambda service errors are 500s


@dataclass
class Fault:
    """Make ``step`` raise ``error`` on its first ``times`` invocations (``--fail``).

    An ``error`` named ``Lambda.<Code>`` (``Lambda.TooManyRequestsException``) is
    Lambda's own answer to the invocation, as when it throttles: the function
    does not run, and the state machine sees the error under that name.
    """

    step: str
    error: str = "TransientError"
    times: int = 1

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse ``STEP[:ERROR[:TIMES]]``."""
        parts = text.split(":")
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise ValueError(f"expected STEP[:ERROR[:TIMES]], got {text!r}")
        step = parts[0].lower()
        error = parts[1] if len(parts) > 1 and parts[1] else "TransientError"
        if not error.removeprefix(LAMBDA_PREFIX).isidentifier():
            raise ValueError(f"error name {error!r} is not a Python identifier")
        times = int(parts[2]) if len(parts) > 2 else 1
        if times < 1:
            raise ValueError(f"TIMES must be at least 1, got {times}")
        return cls(step, error, times)

    @property
    def lambda_code(self) -> str | None:
        """The error code Lambda answers with, for a fault of Lambda itself; ``None`` for one the function raises."""
        return self.error.removeprefix(LAMBDA_PREFIX) if self.error.startswith(LAMBDA_PREFIX) else None

    def exception(self) -> Exception:
        message = f"injected fault: {self.error} in {self.step}"
        known = getattr(project_errors, self.error, None) or getattr(builtins, self.error, None)
        if isinstance(known, type) and issubclass(known, Exception):
            return known(message)
        return type(self.error, (Exception,), {})(message)
