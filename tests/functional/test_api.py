"""Every REST route through chalice.test.Client, against the local AWS (moto) with the real state machine."""
from __future__ import annotations

import json

import pytest
import requests

import app
from chalicelib.api.openapi import ROUTE_DOCS
from chalicelib.steps import CHUNKS_STATE
from etl_local.emulation.faults import Fault
from tests.conftest import SAMPLES, chunk_visit
from tests.functional.api_client import executions

TRANSACTIONS = SAMPLES / "transactions.jsonl"
WITH_ERRORS = SAMPLES / "transactions_with_errors.csv"
MOSTLY_INVALID = SAMPLES / "rejected" / "transactions_mostly_invalid.jsonl"


# --- POST /runs -------------------------------------------------------------------------------

def test_starting_the_same_object_version_twice_makes_one_execution(api):
    api.put("raw/transactions/t.jsonl")
    first = api.call("POST", "/runs", {"key": "raw/transactions/t.jsonl"})
    second = api.call("POST", "/runs", {"key": "raw/transactions/t.jsonl"})
    api.world.wait(first.json_body["execution_arn"])
    third = api.call("POST", "/runs", {"key": "raw/transactions/t.jsonl", "dataset": "transactions"})

    assert (first.status_code, second.status_code, third.status_code) == (202, 200, 200)
    assert first.json_body["run_id"] == second.json_body["run_id"] == third.json_body["run_id"]
    assert third.json_body["status"] == "SUCCEEDED"
    assert len(executions(api)) == 1


def test_a_new_object_version_is_a_new_run(api):
    first = api.run("raw/transactions/t.jsonl")
    second = api.run("raw/transactions/t.jsonl")
    assert first["run_id"] != second["run_id"] and len(executions(api)) == 2


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"key": "raw/transactions/missing.jsonl"}, 404, "does not exist"),
        ({"key": "raw/nosuch/t.jsonl"}, 400, "unknown dataset 'nosuch'"),
        ({"key": "elsewhere/t.jsonl"}, 400, "cannot tell the dataset"),
        ({"key": "raw/transactions/t.jsonl", "bucket": "serverless-etl-local-processed"}, 400, "raw bucket"),
        ({"bucket": "b"}, 422, "$: 'key' is a required property (required)"),
        ({"key": "raw/transactions/t.jsonl", "color": "red"}, 422, "Additional properties are not allowed"),
        ({"key": "raw/transactions/t.jsonl", "dataset": "Bad Name"}, 422, "$.dataset"),
    ],
)
def test_start_errors_say_what_is_wrong(api, body, status, words):
    api.put("raw/transactions/t.jsonl")
    response = api.call("POST", "/runs", body)
    assert response.status_code == status and words in response.json_body["message"]
    assert response.json_body["error"] == {400: "invalid_request", 404: "not_found", 422: "unprocessable"}[status]
    assert executions(api) == []


def test_a_body_that_is_not_json_is_a_400_in_the_api_error_format(api):
    response = api.call("POST", "/runs", raw="key=raw/x.csv")
    assert response.status_code == 400 and response.json_body["error"] == "invalid_request"
    assert "not JSON" in response.json_body["message"]


def test_unexpected_failures_answer_500_without_internals(api, monkeypatch):
    monkeypatch.setattr("chalicelib.control.runs.describe_run", lambda *a: 1 / 0)
    response = api.call("GET", "/runs/anything")
    assert response.status_code == 500
    assert response.json_body == {"error": "internal", "message": "an internal error occurred; the API function's log has the details"}


# --- GET /runs, GET /runs/{id} ----------------------------------------------------------------

def test_runs_are_listed_newest_first_in_pages_and_filtered(api):
    ids = [api.run(f"raw/transactions/t{i}.jsonl")["run_id"] for i in range(3)]
    rejected = api.run("raw/transactions/bad.jsonl", MOSTLY_INVALID)["run_id"]
    metrics = api.run("raw/metrics/m.json", SAMPLES / "metrics.json")

    first = api.call("GET", "/runs?limit=2").json_body
    second = api.call("GET", f"/runs?limit=2&next_token={first['next_token']}").json_body
    third = api.call("GET", f"/runs?limit=2&next_token={second['next_token']}").json_body
    listed = [r["run_id"] for r in first["runs"] + second["runs"] + third["runs"]]
    assert listed == [metrics["run_id"], rejected, *reversed(ids)] and third["next_token"] is None

    assert [r["run_id"] for r in api.call("GET", "/runs?status=REJECTED").json_body["runs"]] == [rejected]
    assert [r["run_id"] for r in api.call("GET", "/runs?dataset=metrics").json_body["runs"]] == [metrics["run_id"]]
    succeeded_tx = api.call("GET", "/runs?status=SUCCEEDED&dataset=transactions&limit=2").json_body
    assert [r["run_id"] for r in succeeded_tx["runs"]] == [ids[2], ids[1]] and succeeded_tx["next_token"]
    since = api.call("GET", f"/runs?since={metrics['started_at']}").json_body["runs"]
    assert [r["run_id"] for r in since] == [metrics["run_id"]]
    assert api.call("GET", "/runs?since=2999-01-01").json_body == {"runs": [], "next_token": None}


def test_a_filtered_listing_reads_whole_pages_and_resumes_after_the_last_run_shown(api, monkeypatch):
    # GIVEN five succeeded runs, two of them metrics
    older, newer = (api.run(f"raw/metrics/m{i}.json", SAMPLES / "metrics.json")["run_id"] for i in range(2))
    for i in range(3):
        api.run(f"raw/transactions/t{i}.jsonl")
    from chalicelib.services import default_services

    client = default_services().runs._ddb
    queries = []
    real_query = client.query
    monkeypatch.setattr(client, "query", lambda **kw: queries.append(kw) or real_query(**kw))

    # WHEN they are listed by status and dataset, one per page
    first = api.call("GET", "/runs?status=SUCCEEDED&dataset=metrics&limit=1").json_body
    second = api.call("GET", f"/runs?status=SUCCEEDED&dataset=metrics&limit=1&next_token={first['next_token']}").json_body

    # THEN each page is one query and no run is skipped or repeated
    assert [r["run_id"] for r in first["runs"] + second["runs"]] == [newer, older]
    assert len(queries) == 2
    reused = api.call("GET", f"/runs?status=SUCCEEDED&limit=1&next_token={first['next_token']}")
    assert reused.status_code == 400 and "other filters" in reused.json_body["message"]


def test_listing_never_scans_the_table(api, monkeypatch):
    api.run("raw/transactions/t.jsonl")
    from chalicelib.services import default_services

    client = default_services().runs._ddb
    monkeypatch.setattr(client, "scan", lambda **kw: pytest.fail("the run table was scanned"))
    assert len(api.call("GET", "/runs").json_body["runs"]) == 1


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("status=DONE", "status='DONE' is not one of"),
        ("dataset=nosuch", "unknown dataset 'nosuch'"),
        ("since=yesterday", "since='yesterday' is not an RFC 3339 time"),
        ("limit=0", "limit must be between 1 and 100"),
        ("limit=ten", "limit='ten' is not an integer"),
        ("next_token=bm9wZQ", "next_token is not one this API returned"),
    ],
)
def test_list_errors_say_what_is_wrong(api, query, words):
    response = api.call("GET", f"/runs?{query}")
    assert response.status_code == 400 and words in response.json_body["message"]


def test_show_a_run_with_its_counts_outputs_and_dead_letters(api):
    run = api.run("raw/transactions/errors.csv", WITH_ERRORS)
    assert run["status"] == "SUCCEEDED" and run["dataset"] == "transactions"
    assert run["counts"] == {"in": 30, "valid": 28, "invalid": 2, "written": 28}
    assert run["source"]["key"] == "raw/transactions/errors.csv" and run["source"]["version"]
    assert run["quarantine"].startswith("s3://serverless-etl-local-processed/quarantine/transactions/")
    assert len(run["dlq_message_ids"]) == 1
    assert run["outputs"]["files"] and all(f.endswith(".parquet") for f in run["outputs"]["files"])
    assert run["duration_seconds"] > 0 and run["execution_arn"].endswith(run["run_id"])


def test_an_unknown_run_is_404(api):
    response = api.call("GET", "/runs/nope-0123456789abcdef")
    assert response.status_code == 404 and response.json_body["error"] == "not_found"
    assert api.call("GET", "/runs/nope-0123456789abcdef/history").status_code == 404
    assert api.call("POST", "/runs/nope-0123456789abcdef/redrive").status_code == 404


# --- history and redrive ------------------------------------------------------------------------

def test_history_shows_each_state_with_attempts_and_retry_waits(api_factory):
    api = api_factory([Fault("transform", "TransientError", 2)])
    run = api.run("raw/transactions/t.jsonl")
    history = api.call("GET", f"/runs/{run['run_id']}/history").json_body
    transform = chunk_visit(history["states"], "Transform")  # in the run of the file's one chunk through the Map
    assert transform["attempts"] == 3 and transform["retry_waits_seconds"] == pytest.approx([2, 4], abs=0.5)
    assert [s["name"] for s in history["states"]][:3] == ["Ingest", "IngestOutcome", CHUNKS_STATE]
    assert history["states"][-1]["name"] == "Succeeded" and history["redrives"] == []


def test_a_failed_run_is_redriven_from_its_failed_state_keeping_its_id_and_execution(api_factory):
    # GIVEN a run that failed at Transform
    api = api_factory([Fault("transform", "RuntimeError", 1)])
    failed = api.run("raw/transactions/t.jsonl")
    assert (failed["status"], failed["failed_state"], failed["error"]) == ("FAILED", "Transform", "RuntimeError")

    # WHEN it is redriven
    response = api.call("POST", f"/runs/{failed['run_id']}/redrive")
    api.world.wait(failed["execution_arn"])
    run = api.call("GET", f"/runs/{failed['run_id']}").json_body

    # THEN it succeeds in the same execution, without rerunning Ingest and Validate
    assert response.status_code == 202 and response.json_body["status"] == "RUNNING"
    assert run["status"] == "SUCCEEDED" and run["execution_arn"] == failed["execution_arn"]
    assert run["error"] is None and run["failed_state"] is None and run["redrive_count"] == 1
    assert run["counts"]["written"] == 24 and len(executions(api)) == 1
    steps = [step for step, _ in api.world.bridge.invocations if step != "on_execution_failed"]
    assert steps == ["ingest", "validate", "transform", "transform", "verdict", "output"]  # the chunk resumed at Transform
    history = api.call("GET", f"/runs/{failed['run_id']}/history").json_body
    assert len(history["redrives"]) == 1
    assert [s["name"] for s in history["states"]].count("Ingest") == 1


def test_a_redrive_that_fails_transiently_leaves_the_run_failed_and_redrivable(api_factory, monkeypatch):
    api = api_factory([Fault("transform", "RuntimeError", 1)])
    failed = api.run("raw/transactions/t.jsonl")
    from chalicelib.errors import TransientError
    from chalicelib.storage.executions import ExecutionStore

    real_redrive = ExecutionStore.redrive

    def throttled(self, arn):
        raise TransientError("redrive: ThrottlingException")

    monkeypatch.setattr(ExecutionStore, "redrive", throttled)
    response = api.call("POST", f"/runs/{failed['run_id']}/redrive")
    after = api.call("GET", f"/runs/{failed['run_id']}").json_body
    assert response.status_code == 503 and response.json_body["error"] == "unavailable"
    assert (after["status"], after["failed_state"], after["error"]) == ("FAILED", "Transform", "RuntimeError")

    monkeypatch.setattr(ExecutionStore, "redrive", real_redrive)
    assert api.call("POST", f"/runs/{failed['run_id']}/redrive").status_code == 202
    api.world.wait(failed["execution_arn"])
    assert api.call("GET", f"/runs/{failed['run_id']}").json_body["status"] == "SUCCEEDED"


def test_only_failed_runs_can_be_redriven(api):
    succeeded = api.run("raw/transactions/t.jsonl")
    rejected = api.run("raw/transactions/bad.jsonl", MOSTLY_INVALID)
    for run, words in ((succeeded, "is SUCCEEDED; only FAILED runs"), (rejected, "replay its dead-letter message")):
        response = api.call("POST", f"/runs/{run['run_id']}/redrive")
        assert response.status_code == 409 and response.json_body["error"] == "conflict" and words in response.json_body["message"]


def test_a_refused_redrive_leaves_the_run_failed(api_factory, monkeypatch):
    api = api_factory([Fault("transform", "RuntimeError", 1)])
    failed = api.run("raw/transactions/t.jsonl")
    from chalicelib.storage.executions import NotRedrivableError

    def refuse(self, arn):
        raise NotRedrivableError("Execution is older than 14 days")

    monkeypatch.setattr("chalicelib.storage.executions.ExecutionStore.redrive", refuse)
    response = api.call("POST", f"/runs/{failed['run_id']}/redrive")
    after = api.call("GET", f"/runs/{failed['run_id']}").json_body
    assert response.status_code == 409 and "older than 14 days" in response.json_body["message"]
    assert {k: after[k] for k in ("status", "failed_state", "error", "redrive_count")} == {
        "status": "FAILED", "failed_state": "Transform", "error": "RuntimeError", "redrive_count": 0}


# --- dead letters -------------------------------------------------------------------------------

def test_dead_letters_are_peeked_without_being_consumed(api):
    run = api.run("raw/transactions/bad.jsonl", MOSTLY_INVALID)
    first = api.call("GET", "/dlq").json_body["messages"]
    again = api.call("GET", "/dlq?limit=5").json_body["messages"]
    assert [m["message_id"] for m in first] == [m["message_id"] for m in again] == run["dlq_message_ids"]
    [message] = first
    assert message["kind"] == "REJECTED" and message["run_id"] == run["run_id"] and message["dataset"] == "transactions"
    assert message["counts"]["in"] == run["counts"]["in"] and message["first_reasons"] and message["age_seconds"] >= 0
    assert api.call("GET", "/dlq?limit=500").status_code == 400


def test_replaying_a_dead_letter_starts_a_fresh_run_and_deletes_the_message(api):
    original = api.run("raw/transactions/errors.csv", WITH_ERRORS)
    [message_id] = original["dlq_message_ids"]

    replayed = api.call("POST", "/dlq/replay", {"message_ids": [message_id, "no-such-message"]}).json_body
    [started, missing] = replayed["results"]
    api.world.wait(started["execution_arn"])
    run = api.call("GET", f"/runs/{started['run_id']}").json_body

    assert started["outcome"] == "started" and started["replay_of"] == original["run_id"]
    assert missing == {"message_id": "no-such-message", "outcome": "not_found"}
    assert run["run_id"] != original["run_id"] and run["replay_of"] == original["run_id"] and run["status"] == "SUCCEEDED"
    assert run["source"] == original["source"] and run["counts"] == original["counts"]
    assert sorted(run["outputs"]["files"]) == sorted(original["outputs"]["files"])  # the same names: overwritten
    listing = api.world.client("s3").list_objects_v2(Bucket=api.world.names.processed_bucket, Prefix="processed/")
    assert len(listing["Contents"]) == len(original["outputs"]["files"])  # not duplicated
    remaining = api.call("GET", "/dlq").json_body["messages"]
    assert message_id not in [m["message_id"] for m in remaining] and len(remaining) == 1  # the replay's own message


def test_replay_all_replays_every_message(api):
    api.run("raw/transactions/bad.jsonl", MOSTLY_INVALID)
    api.run("raw/transactions/errors.csv", WITH_ERRORS)
    result = api.call("POST", "/dlq/replay", {"all": True}).json_body
    assert sorted(r["outcome"] for r in result["results"]) == ["started", "started"] and result["remaining"] is False
    for r in result["results"]:
        api.world.wait(r["execution_arn"])
    statuses = {api.call("GET", f"/runs/{r['run_id']}").json_body["status"] for r in result["results"]}
    assert statuses == {"REJECTED", "SUCCEEDED"}  # same data: the rejected file is rejected again


@pytest.mark.parametrize("body", [{}, {"all": False}, {"message_ids": []}, {"all": True, "message_ids": ["x"]}])
def test_replay_needs_message_ids_or_all(api, body):
    assert api.call("POST", "/dlq/replay", body).status_code == 422


def test_a_replay_that_fails_for_one_message_reports_it_and_keeps_that_message(api, monkeypatch):
    api.run("raw/transactions/bad.jsonl", MOSTLY_INVALID)
    api.run("raw/transactions/errors.csv", WITH_ERRORS)
    from chalicelib.control import deadletters

    real_start = deadletters.start_run

    def start_or_throttle(services, key, **kwargs):
        if key.endswith("bad.jsonl"):
            raise RuntimeError("Rate exceeded")
        return real_start(services, key, **kwargs)

    monkeypatch.setattr(deadletters, "start_run", start_or_throttle)
    results = {r["outcome"]: r for r in api.call("POST", "/dlq/replay", {"all": True}).json_body["results"]}
    assert set(results) == {"started", "skipped"}
    assert results["skipped"]["error"] == "failed" and "Rate exceeded" in results["skipped"]["message"]
    left = [m["message_id"] for m in api.call("GET", "/dlq").json_body["messages"]]
    assert results["skipped"]["message_id"] in left and results["started"]["message_id"] not in left


# --- uploads, datasets, health, OpenAPI ----------------------------------------------------------

def test_an_upload_url_puts_the_file_under_raw_dataset(api):
    upload = api.call("POST", "/uploads", {"dataset": "metrics", "filename": "today.json"})
    assert upload.status_code == 201 and upload.json_body["key"] == "raw/metrics/today.json"
    response = requests.put(upload.json_body["url"], data=(SAMPLES / "metrics.json").read_bytes(), timeout=10)
    assert response.status_code == 200
    body = api.world.client("s3").get_object(Bucket=api.world.names.raw_bucket, Key="raw/metrics/today.json")["Body"].read()
    assert body == (SAMPLES / "metrics.json").read_bytes()


@pytest.mark.parametrize(("body", "status"), [
    ({"dataset": "nosuch", "filename": "a.csv"}, 400),
    ({"dataset": "metrics", "filename": "../a.csv"}, 422),
    ({"dataset": "metrics", "filename": ".."}, 422),
])
def test_upload_errors(api, body, status):
    assert api.call("POST", "/uploads", body).status_code == status


def test_datasets_are_described_with_schema_and_transform(api):
    listed = api.call("GET", "/datasets").json_body["datasets"]
    assert [d["name"] for d in listed] == ["metrics", "transactions", "user_actions"]
    transactions = api.call("GET", "/datasets/transactions").json_body
    assert transactions["schema"]["required"][0] == "transaction_id" and transactions["transform"]["max_invalid_ratio"] == 0.1
    assert api.call("GET", "/datasets/nosuch").status_code == 404


def test_requests_from_web_pages_are_refused(api):
    response = api.client.http.post("/dlq/replay", headers={"content-type": "text/plain", "origin": "https://evil.example"},
                                    body=json.dumps({"all": True}))
    assert response.status_code == 403 and response.json_body["error"] == "forbidden"


def test_health(api):
    assert api.call("GET", "/health").json_body == {"status": "ok"}


def test_openapi_document_lists_exactly_the_routes_the_app_defines(api):
    from openapi_spec_validator import validate

    document = api.call("GET", "/openapi.json").json_body
    validate(document)
    documented = {(m.upper(), path) for path, methods in document["paths"].items() for m in methods}
    defined = {(m, path) for path, methods in app.app.routes.items() for m in methods}
    assert documented == defined == set(ROUTE_DOCS)


def test_every_route_but_health_requires_iam_authorization():
    open_routes = [(m, p) for p, methods in app.app.routes.items() for m, e in methods.items() if e.authorizer is None]
    assert open_routes == [("GET", "/health")]
