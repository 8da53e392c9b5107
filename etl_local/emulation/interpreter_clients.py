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
_INTEGRATION_MODULES = (lambda_eval_utils, state_task_service_dynamodb, state_task_service_sqs, state_task_service_sns,
                        state_task_service_aws_sdk)
_MARK = "_etl_state_machine_integration"  # on the endpoint of a client the interpreter made


def made_by_the_interpreter(endpoint: Any) -> bool:
    """Whether a request goes through one of the interpreter's clients (a service integration of the state machine)."""
    return getattr(endpoint, _MARK, False)


def _shared(build: Callable[..., Any]) -> Callable[..., Any]:
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                client = build(region=region, service=service, state_credentials=state_credentials)
                setattr(client._endpoint, _MARK, True)
                clients[region, service] = client
            return clients[region, service]

    return client_for


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """While inside, the interpreter's tasks share one client per service and region (forgotten on exit), each
    marked as the interpreter's (see :func:`made_by_the_interpreter`)."""
    with contextlib.ExitStack() as stack:
        # One cache for all the modules: they import the same function.
        client_for = _shared(lambda_eval_utils.boto_client_for)
        for module in _INTEGRATION_MODULES:
            stack.enter_context(mock.patch.object(module, "boto_client_for", client_for))
        yield
