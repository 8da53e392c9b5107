"""The emulation can make Step Functions refuse to start executions, for tests of what then happens to the event."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from etl_local.emulation.refusals import start_execution_refused

REGION = "us-east-1"


@pytest.fixture
def machine(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))  # each call once
        account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
        arn = sfn.create_state_machine(name="m", definition=definition, roleArn=f"arn:aws:iam::{account}:role/r")["stateMachineArn"]
        yield sfn, account, arn


def test_start_execution_is_throttled_inside_and_counted_and_accepted_after(machine):
    sfn, account, arn = machine
    with start_execution_refused(account, REGION) as refused:
        for _ in range(2):
            with pytest.raises(ClientError) as error:
                sfn.start_execution(stateMachineArn=arn)
            assert error.value.response["Error"]["Code"] == "ThrottlingException"
    assert refused.attempts == 2
    assert sfn.start_execution(stateMachineArn=arn)["executionArn"]


def test_other_regions_still_start(machine):
    sfn, account, arn = machine
    with start_execution_refused(account, "eu-west-1") as refused:
        assert sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert refused.attempts == 0
