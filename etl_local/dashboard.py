"""``etl dashboard --api URL``: the dashboard of a deployed API, on 127.0.0.1, its calls signed with the user's credentials.

A deployed API authorizes every route with IAM (SigV4), which a browser cannot sign.  This server
stands in for it on loopback: each request the browser makes (the page, ``GET /``, and the page's
API calls) is sent on to the API through :class:`etl_local.client.ApiClient`, which signs it with the
user's AWS credentials, and the answer comes back as the API gave it.  So the page is the API's own,
and nothing public or credential-free is added to the deployment.  Requests of web pages of other
sites are refused (:mod:`etl_local.local_guard`): this server acts with the user's credentials.
"""
from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import requests

from etl_local.client import ApiClient, ApiError
from etl_local.local_guard import refusal

# Answer headers the browser needs from the API's answers; the rest (API Gateway's, say) stay behind.
PASSED_HEADERS = ("Content-Type", "Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                  "Cache-Control", "Retry-After", "Allow")


class DashboardServer(ThreadingHTTPServer):
    """Forwards GET and POST requests on ``host:port`` to the API ``client`` calls."""

    daemon_threads = True

    def __init__(self, client: ApiClient, host: str, port: int) -> None:
        super().__init__((host, port), _Forwarder)
        self.client = client


class _Forwarder(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"  # keep-alive: the page polls

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        refused = refusal(self.headers.get("Host"), self.headers.get("Origin"))
        if refused is not None:
            self._reply(403, {"Content-Type": "application/json"}, _error("forbidden", refused))
            return
        url = urlsplit(self.path)
        try:
            answer = self.server.client.send(self.command, url.path, body, parse_qsl(url.query, keep_blank_values=True))
        except (ApiError, requests.RequestException) as error:
            code = error.code if isinstance(error, ApiError) else "unreachable"
            self._reply(502, {"Content-Type": "application/json"}, _error(code, str(error)))
            return
        self._reply(answer.status_code, {k: answer.headers[k] for k in PASSED_HEADERS if k in answer.headers}, answer.content)

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message}).encode()
