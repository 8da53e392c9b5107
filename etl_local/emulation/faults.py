"""Errors injected into the pipeline's steps (``etl run --fail``, ``etl serve --fail``).

Kept apart from the Lambda bridge that raises them, so the command line can parse ``--fail``
without loading moto.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass

from chalicelib import errors as project_errors


@dataclass
class Fault:
    """Make ``step`` raise ``error`` on its first ``times`` invocations (``--fail``)."""

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
        if not error.isidentifier():
            raise ValueError(f"error name {error!r} is not a Python identifier")
        times = int(parts[2]) if len(parts) > 2 else 1
        if times < 1:
            raise ValueError(f"TIMES must be at least 1, got {times}")
        return cls(step, error, times)

    def exception(self) -> Exception:
        message = f"injected fault: {self.error} in {self.step}"
        known = getattr(project_errors, self.error, None) or getattr(builtins, self.error, None)
        if isinstance(known, type) and issubclass(known, Exception):
            return known(message)
        return type(self.error, (Exception,), {})(message)
