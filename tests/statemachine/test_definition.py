"""Static checks of statemachines/etl.asl.json: what the interpreter would not catch."""
from __future__ import annotations

import json
import re

import pytest

from chalicelib import errors
from chalicelib.failures import REJECTED_ERROR
from chalicelib.steps import LAMBDA_RETRIES, LAMBDA_RETRY, PIPELINE_STEPS, THROTTLE_RETRY
from etl_local.emulation.world import LocalAws
from infra.definition import ETL_DEFINITION, DefinitionError, placeholders, render

TEMPLATE = ETL_DEFINITION.read_text()
DEFINITION = json.loads(TEMPLATE)
LAMBDA_RETRY_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                       errors.TransientError.__name__}


def all_states(states: dict = DEFINITION["States"]):
    for name, state in states.items():
        yield name, state
        for branch in [*state.get("Branches", []), *([state["ItemProcessor"]] if "ItemProcessor" in state else [])]:
            yield from all_states(branch["States"])


def lambda_tasks():
    return [(n, s) for n, s in all_states() if s.get("Resource") == "arn:aws:states:::lambda:invoke"]


def test_every_placeholder_has_exactly_one_substitution_and_none_is_unused():
    substitutions = LocalAws().definition_substitutions({step.function: f"arn-{step.function}" for step in PIPELINE_STEPS})
    assert placeholders(TEMPLATE) == set(substitutions)
    rendered = json.loads(render(TEMPLATE, substitutions))
    assert "${" not in json.dumps(rendered)
    with pytest.raises(DefinitionError, match="without a value"):
        render(TEMPLATE, {k: v for k, v in substitutions.items() if k != "RunsTableName"})
    with pytest.raises(DefinitionError, match="values without a placeholder: \\['Extra'\\]"):
        render(TEMPLATE, {**substitutions, "Extra": "x"})


def test_no_arn_or_resource_name_is_written_literally():
    literal_arns = re.findall(r'"arn:aws:(?!states:::)[^"]*"', TEMPLATE)
    assert literal_arns == []
    assert not re.search(r"\d{12}", TEMPLATE)  # no account ids
    for _, state in all_states():
        for key in ("TableName", "QueueUrl", "TopicArn", "FunctionName"):
            value = state.get("Parameters", {}).get(key)
            assert value is None or re.fullmatch(r"\$\{[A-Za-z]+\}", value), (key, value)


def test_jsonpath_only():
    assert DEFINITION.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(s.get("QueryLanguage", "JSONPath") == "JSONPath" for _, s in all_states())


def test_the_lambda_retry_policy_retries_transient_errors_with_2_4_8_backoff_and_never_data_errors():
    # every Lambda task carries exactly this policy: tests/statemachine/test_contract.py
    data_errors = {cls.__name__ for cls in errors.DataError.__subclasses__()} | {errors.DataError.__name__}
    assert set(LAMBDA_RETRY["ErrorEquals"]) == LAMBDA_RETRY_ERRORS
    assert (LAMBDA_RETRY["IntervalSeconds"], LAMBDA_RETRY["BackoffRate"], LAMBDA_RETRY["MaxAttempts"]) == (2, 2, 3)
    assert not data_errors & set(LAMBDA_RETRY["ErrorEquals"])
    # Lambda's throttling first, waited out for minutes with jittered, capped waits
    assert LAMBDA_RETRIES == [THROTTLE_RETRY, LAMBDA_RETRY]
    assert THROTTLE_RETRY["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    assert THROTTLE_RETRY["JitterStrategy"] == "FULL" and THROTTLE_RETRY["MaxDelaySeconds"] == 60
    waits = [min(THROTTLE_RETRY["IntervalSeconds"] * THROTTLE_RETRY["BackoffRate"] ** n, THROTTLE_RETRY["MaxDelaySeconds"])
             for n in range(THROTTLE_RETRY["MaxAttempts"])]
    assert sum(waits) >= 300  # at most: longer than a chunk function's timeout, so a queue of chunks drains
    assert len(lambda_tasks()) == len(PIPELINE_STEPS)


def test_no_state_catches_errors_so_failures_end_at_the_failed_state():
    # a Catch would route failures into a Fail state, and a redrive would resume there
    assert [name for name, state in all_states() if "Catch" in state] == []
    assert not any("States.ALL" in json.dumps(s.get("Retry", [])) for _, s in all_states())


def test_rejection_ends_in_the_data_error_the_failure_handler_ignores():
    rejected = DEFINITION["States"]["Rejected"]
    assert rejected["Type"] == "Fail" and rejected["Error"] == REJECTED_ERROR


def test_every_state_is_reachable_and_every_target_exists():
    def check(states: dict, start: str) -> None:
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            state = states[name]  # KeyError: a Next/Default/Choice names a missing state
            todo += [c["Next"] for c in state.get("Choices", [])]
            todo += [state[k] for k in ("Next", "Default") if k in state]
            for branch in [*state.get("Branches", []), *([state["ItemProcessor"]] if "ItemProcessor" in state else [])]:
                check(branch["States"], branch["StartAt"])
        assert seen == set(states)

    check(DEFINITION["States"], DEFINITION["StartAt"])


def test_only_references_travel_no_record_payloads():
    # Lambda payloads are the state itself (references and counts) or the execution input
    for name, state in lambda_tasks():
        payload = state["Parameters"].get("Payload.$") or state["Parameters"]["Payload"]
        assert payload == "$" or set(payload) == {"input.$", "execution_id.$", "started_at.$"}, name
