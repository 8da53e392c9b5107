"""`etl serve` in a subprocess on free ports, and what the tests ask of it over HTTP."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
import pytest
import requests

from chalicelib.identity import run_id_for
from etl_local.emulation.world import free_port

RAW_BUCKET = "serverless-etl-local-raw"
FINAL = {"SUCCEEDED", "FAILED", "REJECTED"}


@dataclass
class Server:
    process: subprocess.Popen
    api: str
    aws: str

    def get(self, path: str) -> dict:
        response = requests.get(self.api + path, timeout=30)
        assert response.ok, response.text
        return response.json()

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return requests.post(self.api + path, json=body, timeout=30)

    def upload(self, key: str, path: Path) -> str:
        version = self._client("s3").put_object(Bucket=RAW_BUCKET, Key=key, Body=path.read_bytes())["VersionId"]
        return run_id_for(RAW_BUCKET, key, version)

    def finished(self, run_id: str, timeout: float = 60.0) -> dict:
        """The run once its record is final and its execution has ended.

        The record turns final in RecordSuccess / RecordRejection, a state or two
        before the execution ends (NotifySuccess still runs), so a test that reads
        the history next waits for the execution's terminal state too.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = requests.get(f"{self.api}/runs/{run_id}", timeout=30)
            if response.ok and response.json()["status"] in FINAL and self._ended(response.json()["execution_arn"]):
                return response.json()
            time.sleep(0.2)
        pytest.fail(f"run {run_id} did not finish in {timeout} s")

    def _ended(self, execution_arn: str) -> bool:
        return self._client("stepfunctions").describe_execution(executionArn=execution_arn)["status"] != "RUNNING"

    def _client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.aws, region_name="us-east-1",
                            aws_access_key_id="any", aws_secret_access_key="any")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def start_server(*options: str, output: int | IO[Any] = subprocess.PIPE) -> Server:
    """``etl serve OPTIONS`` on free ports, once its API answers; its stdout and stderr go to ``output``."""
    api_port, aws_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "etl_local.cli", "serve", "--port", str(api_port), "--aws-port", str(aws_port), *options],
        stdout=output, stderr=output, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    running = Server(process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{aws_port}")
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(running.api + "/health", timeout=2).ok:
                return running
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"etl serve did not start: {process.communicate()}")
        time.sleep(0.2)
