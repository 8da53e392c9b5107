"""`etl serve` over real HTTP: upload through the local S3 endpoint, follow, fail, redrive and replay runs."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from chalicelib.api.documents import validator
from chalicelib.identity import run_id_for
from chalicelib.steps import CHUNKS_STATE
from etl_local import cli
from tests.conftest import SAMPLES
from tests.functional.served import RAW_BUCKET, Server, start_server


@pytest.fixture
def server() -> Iterator[Server]:
    running = start_server("--fail", "transform:RuntimeError:1")
    yield running
    running.stop()


def test_serve_runs_uploads_and_redrives_and_replays_over_http(server, capsys):
    # GIVEN a file dropped into the raw bucket through the S3 endpoint, while Transform's first call fails
    failing = server.upload("raw/transactions/transactions_with_errors.csv", SAMPLES / "transactions_with_errors.csv")

    # THEN the S3 event started a run, which failed at Transform
    failed = server.finished(failing)
    assert (failed["status"], failed["failed_state"], failed["error"]) == ("FAILED", "Transform", "RuntimeError")
    history = server.get(f"/runs/{failing}/history")
    assert history["states"][-1]["name"] == CHUNKS_STATE  # the Map failed, as its one chunk failed at Transform
    [chunk] = history["states"][-1]["chunks"]
    assert chunk["states"][-1]["name"] == "Transform" and chunk["states"][-1]["error"] == "RuntimeError"

    # WHEN it is redriven, it resumes at Transform and succeeds in the same execution
    assert server.post(f"/runs/{failing}/redrive").status_code == 202
    redriven = server.finished(failing)
    assert redriven["status"] == "SUCCEEDED" and redriven["execution_arn"] == failed["execution_arn"]
    assert redriven["counts"] == {"in": 30, "valid": 28, "invalid": 2, "written": 28}
    history = server.get(f"/runs/{failing}/history")
    states = [s["name"] for s in history["states"]]
    assert states.count("Ingest") == 1 and states.count(CHUNKS_STATE) == 2 and states[-1] == "Succeeded"
    # AND its chunk resumed at Transform: the same child execution, its history going on
    [chunk] = [s for s in history["states"] if s["name"] == CHUNKS_STATE][-1]["chunks"]
    assert [s["name"] for s in chunk["states"]] == ["Validate", "Transform", "Transform"] and chunk["status"] == "SUCCEEDED"

    # AND a second upload simply succeeds
    clean = server.finished(server.upload("raw/transactions/transactions.jsonl", SAMPLES / "transactions.jsonl"))
    assert clean["status"] == "SUCCEEDED" and clean["counts"]["written"] == 24

    # WHEN the quarantine message of the first run is replayed
    [message] = server.get("/dlq")["messages"]
    assert message["run_id"] == failing and message["kind"] == "QUARANTINED"
    [result] = server.post("/dlq/replay", {"message_ids": [message["message_id"]]}).json()["results"]

    # THEN a fresh run of the same object succeeds and the message is gone
    replay = server.finished(result["run_id"])
    assert result["outcome"] == "started" and replay["replay_of"] == failing and replay["status"] == "SUCCEEDED"
    assert message["message_id"] not in [m["message_id"] for m in server.get("/dlq")["messages"]]

    # AND the CLI sees the same runs through the same API
    assert cli.main(["runs", "--api", server.api, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run_id"] for r in listed] == [result["run_id"], clean["run_id"], failing]

    # WHEN interrupted (Ctrl-C), it stops cleanly
    server.process.send_signal(signal.SIGINT)
    out, err = server.process.communicate(timeout=20)
    assert server.process.returncode == 0 and "stopped" in err
    assert "AWS endpoint  " + server.aws in out and "REST API      " + server.api in out


def test_an_upload_sent_as_a_form_is_stored_whole_and_run(server):
    # GIVEN a presigned URL from the API, and a gzip file PUT the way urllib (and curl -d) sends data: as a form
    upload = server.post("/uploads", {"dataset": "transactions", "filename": "transactions.jsonl.gz"}).json()
    body = gzip.compress((SAMPLES / "transactions.jsonl").read_bytes())
    with urllib.request.urlopen(urllib.request.Request(upload["url"], data=body, method="PUT"), timeout=30) as response:
        version = response.headers["x-amz-version-id"]

    # THEN the object holds the file as sent
    s3 = boto3.client("s3", endpoint_url=server.aws, region_name="us-east-1", aws_access_key_id="any", aws_secret_access_key="any")
    stored = s3.get_object(Bucket=RAW_BUCKET, Key=upload["key"], VersionId=version)
    assert (stored["Body"].read(), stored["ContentType"]) == (body, "application/x-www-form-urlencoded")

    # AND the run it started read every record (and then met the server's injected Transform fault)
    run = server.finished(run_id_for(RAW_BUCKET, upload["key"], version))
    assert (run["status"], run["failed_state"], run["counts"]["in"], run["counts"]["valid"]) == ("FAILED", "Transform", 24, 24)


def test_a_method_the_route_lacks_gets_405_with_the_api_error_and_allow(server):
    for method, path, allowed in (("TRACE", "/runs", "GET, POST"), ("DELETE", "/runs?limit=1", "GET, POST"),
                                  ("PUT", "/runs/some-run/redrive", "POST")):
        response = requests.request(method, server.api + path, timeout=30)
        assert (response.status_code, response.headers["Allow"]) == (405, allowed), (method, path, response.text)
        assert response.headers["Content-Type"] == "application/json"
        assert not list(validator("Error").iter_errors(response.json())) and response.json()["error"] == "method_not_allowed"
    # AND the same connection carries the next request
    with requests.Session() as session:
        assert session.request("TRACE", server.api + "/health", data=b"ignored", timeout=30).status_code == 405
        assert session.get(server.api + "/health", timeout=30).json() == {"status": "ok"}


def readme_walkthrough() -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    return block.strip().removeprefix("```bash").removesuffix("```")


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README walk-through uses curl")
def test_the_readme_walkthrough_works_as_written(server):
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_walkthrough()], capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).parents[2], env={**os.environ, "ETL_API_URL": server.api},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "FAILED Transform RuntimeError" in lines  # step 2
    assert "RUNNING" in lines and "SUCCEEDED 28 1" in lines  # step 4: redriven, 28 records written
    assert any(line.startswith("SUCCEEDED transactions_with_errors-") for line in lines)  # step 5: the replay
