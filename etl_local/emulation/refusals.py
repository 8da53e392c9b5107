"""Step Functions refusing to start executions, as when ``StartExecution`` is throttled.

For tests of what happens to a start that never happens: EventBridge retries the event and
then dead-letters it.  The refusal is made inside moto's Step Functions backend of one account
and region, so every caller meets it, the EventBridge bridge as much as an SDK client.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

from moto.core.exceptions import JsonRESTError
from moto.stepfunctions.responses import get_backend as stepfunctions_backend


class ThrottlingException(JsonRESTError):
    """What Step Functions answers a ``StartExecution`` beyond the account's rate."""

    def __init__(self) -> None:
        super().__init__("ThrottlingException", "Rate exceeded")


@dataclass
class Refusals:
    """How many ``StartExecution`` calls were refused."""

    attempts: int = 0


@contextlib.contextmanager
def start_execution_refused(account: str, region: str) -> Iterator[Refusals]:
    """While inside, Step Functions of ``account`` and ``region`` refuses every ``StartExecution`` (throttled).

    Yields
    ------
    Refusals
        Counting the refused calls.
    """
    refusals = Refusals()

    def refuse(*args: Any, **kwargs: Any) -> None:
        refusals.attempts += 1
        raise ThrottlingException()

    with mock.patch.object(stepfunctions_backend(account, region), "start_execution", refuse):
        yield refusals
