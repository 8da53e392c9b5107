"""Routes for runs: start, upload, list, show, history, redrive."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.responses import handles_errors, json_response
from chalicelib.api.routes import BODY_TYPES, iam, int_param, query, request_body
from chalicelib.control import runs, uploads
from chalicelib.services import default_services

runs_api = Blueprint(__name__)


@runs_api.route("/runs", methods=["POST"], authorizer=iam, content_types=BODY_TYPES)
@handles_errors
def start_run() -> Response:
    body = request_body(runs_api, "StartRun")
    started = runs.start_run(default_services(), body["key"], bucket=body.get("bucket"), dataset=body.get("dataset"))
    return json_response(started.run, 202 if started.created else 200)


@runs_api.route("/uploads", methods=["POST"], authorizer=iam, content_types=BODY_TYPES)
@handles_errors
def create_upload() -> Response:
    body = request_body(runs_api, "CreateUpload")
    return json_response(uploads.upload_url(default_services(), body["dataset"], body["filename"]), 201)


@runs_api.route("/runs", methods=["GET"], authorizer=iam)
@handles_errors
def list_runs() -> Response:
    params = query(runs_api)
    page = runs.list_runs(
        default_services(), status=params.get("status"), dataset=params.get("dataset"), since=params.get("since"),
        limit=int_param(params, "limit", 50), next_token=params.get("next_token"),
    )
    return json_response(page)


@runs_api.route("/runs/{run_id}", methods=["GET"], authorizer=iam)
@handles_errors
def show_run(run_id: str) -> Response:
    return json_response(runs.describe_run(default_services(), run_id))


@runs_api.route("/runs/{run_id}/history", methods=["GET"], authorizer=iam)
@handles_errors
def run_history(run_id: str) -> Response:
    return json_response(runs.run_history(default_services(), run_id))


@runs_api.route("/runs/{run_id}/redrive", methods=["POST"], authorizer=iam, content_types=BODY_TYPES)
@handles_errors
def redrive_run(run_id: str) -> Response:
    return json_response(runs.redrive_run(default_services(), run_id), 202)
