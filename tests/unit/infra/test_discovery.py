"""Resource names from SSM Parameter Store, where the stack publishes its outputs."""
from __future__ import annotations

import argparse

import boto3
import pytest
from moto import mock_aws

from etl_local import cli
from etl_local.client import DEFAULT_API, ApiError
from infra.discovery import parameter_path, read


@pytest.fixture
def ssm(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1")
        client.put_parameter(Name="/serverless-etl/prod/EndpointURL", Value="https://abc.execute-api.us-east-1.amazonaws.com/api/",
                             Type="String")
        client.put_parameter(Name="/serverless-etl/prod/RawBucketName", Value="raw", Type="String")
        client.put_parameter(Name="/serverless-etl/dev/RawBucketName", Value="dev-raw", Type="String")
        yield client


def test_read_gives_the_stages_outputs_by_name(ssm):
    assert parameter_path("prod") == "/serverless-etl/prod/"
    assert read("prod", ssm) == {"EndpointURL": "https://abc.execute-api.us-east-1.amazonaws.com/api/", "RawBucketName": "raw"}
    assert read("test", ssm) == {}


def api_args(**given) -> argparse.Namespace:
    return argparse.Namespace(**{"api": None, "stage": None, "region": "us-east-1", **given})


def test_the_api_commands_take_the_flag_then_the_stages_published_url_then_the_local_server(ssm):
    assert cli._api_url(api_args(api="http://127.0.0.1:9000", stage="prod")) == "http://127.0.0.1:9000"
    assert cli._api_url(api_args(stage="prod")) == "https://abc.execute-api.us-east-1.amazonaws.com/api/"
    assert cli._api_url(api_args()) == DEFAULT_API
    with pytest.raises(ApiError, match="no /serverless-etl/dev/EndpointURL"):
        cli._api_url(api_args(stage="dev"))


def test_etl_dashboard_calls_the_stages_published_url(ssm, monkeypatch, capsys):
    from etl_local.dashboard import DashboardServer

    def interrupted(server):
        raise KeyboardInterrupt  # Ctrl-C as soon as it serves

    monkeypatch.delenv("ETL_API_URL", raising=False)
    monkeypatch.setattr(DashboardServer, "serve_forever", interrupted)
    assert cli.main(["dashboard", "--stage", "prod", "--region", "us-east-1", "--port", "0"]) == 0
    assert "(calls https://abc.execute-api.us-east-1.amazonaws.com/api/)" in capsys.readouterr().out
    # a stage not deployed here is named, and nothing is served
    assert cli.main(["dashboard", "--stage", "dev", "--region", "us-east-1", "--port", "0"]) == cli.EXIT_ERROR
    assert "no /serverless-etl/dev/EndpointURL in SSM" in capsys.readouterr().err
