"""The state machine interpreter's SDK clients, built once per service and region rather than once per task.

moto's interpreter builds a new boto3 client for every task it runs (``boto_client_for``), which takes
30-40 ms of CPU each: two per chunk and five per run.  Clients are safe to share between threads, and
moto 5.2.5 builds them all alike (fixed keys, its own endpoint; a task's credentials are not used), so
one per service and region answers as a new one would.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_dynamodb,
    state_task_service_sns,
    state_task_service_sqs,
)

# The interpreter modules whose clients make the state machine's service integrations.
INTEGRATION_MODULES = (lambda_eval_utils, state_task_service_dynamodb, state_task_service_sqs, state_task_service_sns,
                       state_task_service_aws_sdk)


def _shared(build: Callable[..., Any]) -> Callable[..., Any]:
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[region, service] = build(region=region, service=service, state_credentials=state_credentials)
            return clients[region, service]

    return client_for


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """While inside, the interpreter's tasks share one client per service and region (forgotten on exit)."""
    with contextlib.ExitStack() as stack:
        # One cache for all the modules: they import the same function.
        client_for = _shared(lambda_eval_utils.boto_client_for)
        for module in INTEGRATION_MODULES:
            stack.enter_context(mock.patch.object(module, "boto_client_for", client_for))
        yield
