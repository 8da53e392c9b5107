"""A client of the REST API, for the ``etl`` commands: local server or deployed (SigV4-signed)."""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

DEFAULT_API = "http://127.0.0.1:8000"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # this machine: the local server, whose requests go unsigned
_EXECUTE_API = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


class ApiError(Exception):
    """The API answered with an error, or could not be reached."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.status, self.code = status, code


class ApiClient:
    """Calls the API at ``base_url``; requests to anything but loopback are signed with SigV4.

    Parameters
    ----------
    base_url
        ``http://127.0.0.1:8000`` for ``etl serve``; the deployed stage URL
        (``https://<id>.execute-api.<region>.amazonaws.com/api``) otherwise.
    region
        Region for signing; default: from an execute-api host name, else the boto3 default.
    sign
        Sign requests or not; default: sign unless ``base_url`` is a loopback address.
    """

    def __init__(self, base_url: str = DEFAULT_API, region: str | None = None, timeout: float = 60.0,
                 sign: bool | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        host = urlsplit(self.base_url).hostname or ""
        self._sign = host not in LOOPBACK_HOSTS if sign is None else sign
        match = _EXECUTE_API.search(host)
        self._region = region or (match.group(1) if match else None)
        self._timeout = timeout

    def _signed_headers(self, method: str, url: str, body: bytes | None) -> dict[str, str]:
        import boto3  # only deployed APIs need credentials
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise ApiError(None, "no_credentials", "the deployed API needs AWS credentials (IAM authorization)")
        request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self._region or session.region_name or "us-east-1").add_auth(request)
        return dict(request.headers)

    def send(self, method: str, path: str, data: bytes | None = None, params: Sequence[tuple[str, str]] = ()) -> requests.Response:
        """One request as is, signed where the API needs it (``etl dashboard`` forwards the page's calls with it).

        The query is encoded here, as SigV4 encodes it (``%20``, not ``+``), so the signature covers
        exactly what is sent.
        """
        query = urlencode(params, quote_via=quote)
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        headers = self._signed_headers(method, url, data) if self._sign else {"Content-Type": "application/json"}
        try:
            return requests.request(method, url, data=data, headers=headers, timeout=self._timeout)
        except requests.ConnectionError as error:
            hint = "; is `etl serve` running?" if not self._sign else ""
            raise ApiError(None, "unreachable", f"cannot reach the API at {self.base_url}{hint}") from error

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        response = self.send(method, path, data, [(k, str(v)) for k, v in params.items() if v is not None])
        try:
            answer = response.json()
        except ValueError:
            answer = {"error": "unreadable", "message": response.text[:500]}
        if response.status_code >= 400:
            raise ApiError(response.status_code, str(answer.get("error") or answer.get("Code") or "error"),
                           str(answer.get("message") or answer.get("Message") or answer))
        return answer

    def start(self, key: str, bucket: str | None = None, dataset: str | None = None) -> dict[str, Any]:
        body = {k: v for k, v in {"key": key, "bucket": bucket, "dataset": dataset}.items() if v is not None}
        return self.call("POST", "/runs", body)

    def runs(self, **filters: Any) -> dict[str, Any]:
        return self.call("GET", "/runs", **filters)

    def show(self, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/runs/{run_id}")

    def history(self, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/runs/{run_id}/history")

    def redrive(self, run_id: str) -> dict[str, Any]:
        return self.call("POST", f"/runs/{run_id}/redrive")

    def dead_letters(self, limit: int = 10) -> dict[str, Any]:
        return self.call("GET", "/dlq", limit=limit)

    def replay(self, message_ids: list[str] | None) -> dict[str, Any]:
        return self.call("POST", "/dlq/replay", {"all": True} if message_ids is None else {"message_ids": message_ids})
