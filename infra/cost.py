"""Cost controls: a monthly budget alerting the alerts topic, and reserved concurrency per function.

Reserved concurrency is set in one place, ``.chalice/config.json`` (``reserved_concurrency``
of each entry of ``lambda_functions``), which both ``chalice package`` and ``chalice deploy``
read.  :func:`check_map_concurrency` is the hook for a Map state: a Map whose iterations
invoke a function may not run more of them at once than the function may run.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.config import chunk_concurrency_in
from chalicelib.steps import INGEST
from infra import permissions as p
from infra.chalice_project import function_config
from infra.definition import objects_in
from infra.naming import APP, stage_name, tag_values
from infra.permissions import ref

HAS_BUDGET = "HasBudget"
MONTHLY_BUDGET = "MonthlyBudget"
BUDGET_SCOPE_TAGS = ("app", "stage")  # of naming.TAG_KEYS: the costs of this app in this stage


class ConcurrencyError(ValueError):
    """A Map state runs more iterations at once than a function it invokes is reserved for."""


def reserved_concurrency(stage: str, function: str) -> int | None:
    """The function's reserved concurrency in the stage (``None``: unreserved)."""
    return function_config(stage, function).reserved_concurrency


def chunk_concurrency(stage: str) -> int:
    """How many chunks of one run the stage's Map processes at once: what its ``MaxConcurrencyPath`` reads
    (Ingest passes its ``CHUNK_CONCURRENCY`` setting on)."""
    return chunk_concurrency_in(function_config(stage, INGEST.function).environment_variables)


def _maps(node: Any) -> list[dict[str, Any]]:
    return [state for state in objects_in(node) if state.get("Type") == "Map"]


def check_map_concurrency(definition: str, substitutions: dict[str, Any], stage: str) -> None:
    """Check every Map state's concurrency against the reserved concurrency of the functions it invokes.

    A Map with ``MaxConcurrency`` 0 (unbounded) or above the reservation would be throttled
    by its own function; the functions are found by the placeholders of their ARNs.

    Raises
    ------
    ConcurrencyError
        Naming the Map, the function and both numbers.
    """
    functions = {placeholder: value["Fn::Sub"].rsplit(f"{APP}-${{Stage}}-", 1)[1] for placeholder, value in substitutions.items()
                 if isinstance(value, dict) and ":function:" in value.get("Fn::Sub", "")}
    concurrency = chunk_concurrency(stage)
    for state in _maps(json.loads(definition)):
        body = json.dumps(state.get("ItemProcessor") or state.get("Iterator") or {})
        for placeholder, function in functions.items():
            reserved = reserved_concurrency(stage, function)
            if f"${{{placeholder}}}" not in body or reserved is None:
                continue
            limit = concurrency if "MaxConcurrencyPath" in state else state.get("MaxConcurrency", 0)
            if limit == 0 or limit > reserved:
                raise ConcurrencyError(f"a Map state runs up to {limit or 'unbounded'} iterations at once, but {function} "
                                       f"is reserved {reserved} in stage {stage}: raise reserved_concurrency or lower MaxConcurrency")


def parameters() -> dict[str, Any]:
    return {MONTHLY_BUDGET: {"Type": "Number", "Default": 100, "MinValue": 0,
                             "Description": "Monthly cost budget in USD of resources tagged app=serverless-etl and stage=<stage> (0: no budget)"}}


def conditions() -> dict[str, Any]:
    return {HAS_BUDGET: {"Fn::Not": [{"Fn::Equals": [ref(MONTHLY_BUDGET), 0]}]}}


def budget_filter() -> dict[str, Any]:
    """What the budget counts: resources tagged with this app *and* this stage (activate both cost-allocation tags once
    in the Billing console), so each stage's budget counts its own costs.  ``CostFilters`` could not say that: the
    values of its ``TagKeyValue`` filter are alternatives."""
    values = tag_values("cost")
    return {"And": [{"Tags": {"Key": key, "Values": [values[key]], "MatchOptions": ["EQUALS"]}} for key in BUDGET_SCOPE_TAGS]}


def budget() -> dict[str, Any]:
    """Alerts at 80 % of the month's actual cost and at 100 % of its forecast."""
    subscriber = [{"SubscriptionType": "SNS", "Address": ref(p.TOPIC)}]
    return {"CostBudget": {"Type": "AWS::Budgets::Budget", "Condition": HAS_BUDGET, "Properties": {
        "Budget": {
            "BudgetName": stage_name("monthly"), "BudgetType": "COST", "TimeUnit": "MONTHLY",
            "BudgetLimit": {"Amount": ref(MONTHLY_BUDGET), "Unit": "USD"},
            "FilterExpression": budget_filter(),
        },
        "NotificationsWithSubscribers": [
            {"Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80,
                              "ThresholdType": "PERCENTAGE"}, "Subscribers": subscriber},
            {"Notification": {"NotificationType": "FORECASTED", "ComparisonOperator": "GREATER_THAN", "Threshold": 100,
                              "ThresholdType": "PERCENTAGE"}, "Subscribers": subscriber},
        ],
    }}}
