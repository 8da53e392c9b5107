"""The API through chalice.test.Client on the local AWS, every answer checked against its documented schema."""
from __future__ import annotations

import json

from chalice.test import Client

from chalicelib.api.documents import validator
from chalicelib.api.openapi import ROUTE_DOCS
from etl_local.emulation.world import LocalAws
from tests.conftest import SAMPLES

TRANSACTIONS = SAMPLES / "transactions.jsonl"


class Api:
    """The API client plus the local AWS it talks to; checks every answer against its documented schema."""

    def __init__(self, world: LocalAws, client: Client) -> None:
        self.world, self.client = world, client

    def call(self, method: str, path: str, body=None, raw: str | None = None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers={"content-type": "application/json"}, body=data)
        route = path.split("?")[0]
        template = next(t for (m, t) in ROUTE_DOCS if m == method and _matches(t, route))
        schema = ROUTE_DOCS[(method, template)].all_responses.get(response.status_code)
        assert schema is not None, f"{method} {path} answered {response.status_code}, which is not documented"
        if schema:
            errors = [e.message for e in validator(schema).iter_errors(response.json_body)]
            assert not errors, f"{method} {path} ({response.status_code}) does not match {schema}: {errors}"
        return response

    def put(self, key: str, path=TRANSACTIONS) -> str:
        return self.world.client("s3").put_object(Bucket=self.world.names.raw_bucket, Key=key, Body=path.read_bytes())["VersionId"]

    def run(self, key: str, path=TRANSACTIONS) -> dict:
        """Upload, start through the API, wait for the execution; return the finished run."""
        self.put(key, path)
        started = self.call("POST", "/runs", {"key": key}).json_body
        self.world.wait(started["execution_arn"])
        return self.call("GET", f"/runs/{started['run_id']}").json_body


def _matches(template: str, path: str) -> bool:
    t, p = template.strip("/").split("/"), path.strip("/").split("/")
    return len(t) == len(p) and all(a == b or a.startswith("{") for a, b in zip(t, p))


def executions(api: Api) -> list[dict]:
    return api.world.client("stepfunctions").list_executions(stateMachineArn=api.world.state_machine_arn)["executions"]
