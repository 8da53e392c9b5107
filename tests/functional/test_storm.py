"""Fault storms: files through the pipeline while AWS requests fail, and nothing lost (issue 13)."""
from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from moto import mock_aws

from etl_local.emulation.bridge import CURRENT_FUNCTION
from etl_local.emulation.storm import FaultStorm
from etl_local.storm_trial import trial
from tests.conftest import SAMPLES


def test_a_storm_at_ten_percent_loses_duplicates_and_strands_nothing(tmp_path):
    # GIVEN 15 files (clean, partly invalid, rejected) while 10 % of the pipeline's AWS requests fail
    report = trial(15, 0.1, seed=7, work=tmp_path)
    # THEN the storm struck every kind of call the pipeline makes ...
    assert {"s3", "dynamodb", "lambda", "sqs", "sns"} <= report.faults_injected.keys(), report.faults_injected
    # ... and every valid record is written once, every invalid one quarantined, every run ended, every letter replayed once
    assert report.problems == []
    assert report.records_written == report.records_expected > 0 and report.records_lost == report.records_duplicated == 0
    assert report.quarantined == report.quarantined_expected > 0
    assert report.runs_stuck == 0 and report.duplicated_replays == 0 and report.dead_letters_replayed > 0
    assert set(report.final_statuses) <= {"SUCCEEDED", "REJECTED"}


def test_the_storm_strikes_the_functions_calls_and_spares_the_harness():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="storm-bucket")
        storm = FaultStorm(1.0, seed=1)
        with storm.installed():
            s3.put_object(Bucket="storm-bucket", Key="harness", Body=b"x")  # not a function's call: untouched
            token = CURRENT_FUNCTION.set("ingest")
            try:
                with pytest.raises((ClientError, BotoCoreError)):  # every attempt botocore makes fails
                    boto3.client("s3", region_name="us-east-1").head_object(Bucket="storm-bucket", Key="harness")
            finally:
                CURRENT_FUNCTION.reset(token)
        assert storm.counts()["s3"] > 1  # botocore retried before giving up
        assert s3.head_object(Bucket="storm-bucket", Key="harness")["ContentLength"] == 1


def test_etl_run_reports_the_faults_it_injected(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "etl_local.cli", "run", str(SAMPLES / "transactions.jsonl"), "--json", "--out", str(tmp_path),
         "--fault-rate", "0.2", "--fault-seed", "3"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["status"] == "SUCCEEDED" and sum(report["faults_injected"].values()) > 0
