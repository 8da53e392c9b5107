"""Structured logs, metrics and traces (AWS Lambda Powertools): one JSON line per stage, keyed by run; EMF metrics
per dataset; X-Ray traces of each invocation and its AWS calls (off outside Lambda).

Metrics go out as CloudWatch embedded metric format in the function's log
(no PutMetricData call), namespace :data:`METRICS_NAMESPACE`, dimension ``dataset``;
the handlers that emit them flush them when they return, unless metrics are switched
off (``POWERTOOLS_METRICS_DISABLED``, as ``etl run`` does): then nothing was kept, and
a flush would only warn that there was nothing to publish.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = "serverless-etl"
METRICS_NAMESPACE = "ServerlessEtl"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)  # patches botocore, so each AWS call is a subsegment
COUNT, BYTES, SECONDS = MetricUnit.Count, MetricUnit.Bytes, MetricUnit.Seconds


def emit_metrics(dataset: str, values: dict[str, tuple[float, MetricUnit]]) -> None:
    """Add one stage's figures for ``dataset`` (``name -> (value, unit)``) to this invocation's metrics."""
    if is_metrics_disabled():  # Powertools would keep them, and print them anyway once 100 have piled up
        return
    metrics.add_dimension(name="dataset", value=dataset)
    for name, (value, unit) in values.items():
        metrics.add_metric(name=name, unit=unit, value=value)
State = TypeVar("State", bound=Mapping[str, Any])
Handler = TypeVar("Handler", bound=Callable[..., Any])


def flushing_metrics(handler: Handler) -> Handler:
    """``handler``, whose metrics are printed (EMF) when it returns or raises, if metrics are switched on."""
    @functools.wraps(handler)
    def flushing(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            if not is_metrics_disabled():
                metrics.flush_metrics()
    return cast(Handler, flushing)


def instrumented(*, emits_metrics: bool = False) -> Callable[[Handler], Handler]:
    """A Lambda handler with its invocation's logs (keys cleared each time), its X-Ray trace and, if it emits
    any, its metrics flushed when it returns."""
    def wrap(handler: Handler) -> Handler:
        inner = flushing_metrics(handler) if emits_metrics else handler
        return cast(Handler, logger.inject_lambda_context(clear_state=True)(tracer.capture_lambda_handler(inner)))
    return wrap


def log_stage_result(step: str, state: State) -> State:
    """Log what a stage decided (for a chunk: its counts), with the run's keys on every later line; return ``state``."""
    run = state["run"]
    logger.append_keys(run_id=run["run_id"], dataset=run["dataset"], execution_id=run["execution_id"])
    details: dict[str, Any] = {key: state[key] for key in ("validated", "transformed", "output") if key in state}
    if "chunk" in state:
        details["chunk"] = state["chunk"]["index"]
    if "outcome" in state:
        outcome = state["outcome"]
        details.update({key: outcome[key] for key in ("verdict", "records_in", "records_valid", "records_invalid", "reason")})
    logger.info(f"{step} finished", extra=details)
    return state
