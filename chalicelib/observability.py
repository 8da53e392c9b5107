"""Structured logs (AWS Lambda Powertools): one JSON line per stage, keyed by run."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

logger = Logger(service="serverless-etl")
State = TypeVar("State", bound=Mapping[str, Any])


def log_stage_result(step: str, state: State) -> State:
    """Log what a stage decided, with the run's keys on every later line; return ``state``."""
    run, outcome = state["run"], state["outcome"]
    logger.append_keys(run_id=run["run_id"], dataset=run["dataset"], execution_id=run["execution_id"])
    logger.info(
        f"{step} finished",
        extra={
            "verdict": outcome["verdict"],
            "records_in": outcome["records_in"],
            "records_valid": outcome["records_valid"],
            "records_invalid": outcome["records_invalid"],
            "reason": outcome["reason"],
            **({"output": state["output"]} if "output" in state else {}),
        },
    )
    return state
