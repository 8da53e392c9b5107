"""The operator dashboard (GET /): the page and its guard through the API, ``etl dashboard``'s signing, and the
page driven in headless Chromium against ``etl serve`` with the samples (screenshots under the test's tmp folder)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests

from chalicelib.api.dashboard import dashboard_page
from etl_local.client import ApiClient
from etl_local.dashboard import DashboardServer
from etl_local.emulation.world import free_port
from tests.conftest import SAMPLES
from tests.functional.served import Server, start_server

# --- the page through the API ------------------------------------------------------------------


def _inline(tag: str, page: str) -> str:
    [text] = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
    return text


def test_the_api_serves_the_page_and_its_policy_admits_only_its_own_script_and_style(api):
    response = api.call("GET", "/")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/html; charset=utf-8"
    page, policy = response.body.decode(), response.headers["Content-Security-Policy"]
    assert page == dashboard_page()[0]  # static: no data in it
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        digest = base64.b64encode(hashlib.sha256(_inline(tag, page).encode()).digest()).decode()
        assert directives[directive] == f"'sha256-{digest}'"
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'self'"
    assert "dashboard.js" not in page and "function route()" in page  # the script is inline, whole


def test_same_origin_requests_pass_and_other_origins_are_refused(api):
    def replay(**headers: str) -> Any:
        return api.client.http.post("/dlq/replay", headers={"content-type": "application/json", **headers},
                                    body=json.dumps({"all": True}))

    assert replay(host="127.0.0.1:8000", origin="http://127.0.0.1:8000").status_code == 200  # the dashboard's own calls
    assert replay(host="127.0.0.1:8000").status_code == 200  # programs send no Origin
    for origin in ("http://evil.example", "http://127.0.0.1:8001", "null"):
        refused = replay(host="127.0.0.1:8000", origin=origin)
        assert (refused.status_code, refused.json_body["error"]) == (403, "forbidden"), origin


def test_the_lambda_package_carries_the_page_and_api_gateway_authorizes_it_with_iam(tmp_path):
    from infra.package import package

    template = json.loads(package("prod", tmp_path, region="us-east-1", with_dependencies=False).read_text())
    with zipfile.ZipFile(tmp_path / "deployment.zip") as deployment:
        assert {f"chalicelib/api/static/dashboard.{suffix}" for suffix in ("html", "css", "js")} <= set(deployment.namelist())
    [api] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    assert api["Properties"]["DefinitionBody"]["paths"]["/"]["get"]["security"] == [{"sigv4": []}]  # as every route but /health


# --- etl dashboard: forwards the page's calls, signed ------------------------------------------

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class Upstream(ThreadingHTTPServer):
    """Stands in for the deployed API: records each request and answers 202 with a JSON body."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.seen: list[dict[str, Any]] = []


class _Recorder(BaseHTTPRequestHandler):
    server: Upstream

    def do_GET(self) -> None:
        self._record()

    def do_POST(self) -> None:
        self._record()

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        answer = b'{"status": "RUNNING"}'
        self.send_response(202)
        for name, value in (("Content-Type", "application/json"), ("Retry-After", "2"), ("X-Amzn-RequestId", "r-1")):
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def _sigv4_is_valid(request: dict[str, Any]) -> bool:
    """Check a request's SigV4 signature the way API Gateway does: over the request as it arrived."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    match = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=\w+/(\d{8})/([a-z0-9-]+)/execute-api/aws4_request, "
                         r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", headers["authorization"])
    assert match, headers["authorization"]
    day, region, signed, signature = match.groups()
    url = urlsplit(request["path"])
    encode = lambda text: quote(text, safe="-_.~")  # noqa: E731
    canonical = "\n".join([
        request["method"], quote(url.path, safe="/-_.~"),
        "&".join(sorted(f"{encode(k)}={encode(v)}" for k, v in parse_qsl(url.query, keep_blank_values=True))),
        "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed.split(";")),
        signed, hashlib.sha256(request["body"]).hexdigest(),
    ])
    scope = f"{day}/{region}/execute-api/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in (day, region, "execute-api", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_etl_dashboard_forwards_the_pages_calls_signed_and_refuses_other_sites(upstream, monkeypatch):
    # GIVEN AWS credentials, and the proxy in front of an API that wants signed requests
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = ApiClient(f"http://127.0.0.1:{upstream.server_address[1]}/api", region="eu-west-1", sign=True)
    proxy = DashboardServer(client, "127.0.0.1", 0)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    local = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        # WHEN the page asks for a filtered listing (a token with / + = and a space, sent as + as browsers do) and redrives a run, same-origin
        listing = requests.get(local + "/runs?status=FAILED&since=2024-03-15T00%3A00%3A00Z&next_token=ab%2Fc%2Bd%3D+e", timeout=10)
        redrive = requests.post(local + "/runs/r-1/redrive", data=b"{}", headers={"Origin": local}, timeout=10)

        # THEN each went on to the API under its stage, signed for execute-api over exactly what it sent
        assert [(s["method"], s["path"]) for s in upstream.seen] == [
            ("GET", "/api/runs?status=FAILED&since=2024-03-15T00%3A00%3A00Z&next_token=ab%2Fc%2Bd%3D%20e"),
            ("POST", "/api/runs/r-1/redrive")]
        assert all(_sigv4_is_valid(s) for s in upstream.seen)
        assert upstream.seen[1]["body"] == b"{}" and "Origin" not in upstream.seen[1]["headers"]
        # AND the API's answer came back as given, less its own headers
        assert (redrive.status_code, redrive.json(), redrive.headers["Retry-After"]) == (202, {"status": "RUNNING"}, "2")
        assert listing.status_code == 202 and "X-Amzn-RequestId" not in listing.headers

        # WHEN a page of another origin, or a site named at 127.0.0.1 (DNS rebinding), calls it
        other = requests.post(local + "/dlq/replay", data=b'{"all": true}', headers={"Origin": "http://evil.example"}, timeout=10)
        rebound = requests.post(local + "/dlq/replay", data=b'{"all": true}',
                                headers={"Host": "evil.example", "Origin": "http://evil.example"}, timeout=10)
        # THEN it is refused, and nothing is signed or sent on
        assert (other.status_code, other.json()["error"], rebound.status_code) == (403, "forbidden", 403)
        assert len(upstream.seen) == 2
    finally:
        proxy.shutdown()
        proxy.server_close()


# --- in the browser ----------------------------------------------------------------------------

# Debian's Chromium: Playwright starts it (no browser download); flags as this closed network needs them
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The first run: Ingest retried once (a 2 s wait), then FAILED at Transform; the others run as they are.
FAULTS = ("--fail", "ingest:TransientError:1", "--fail", "transform:RuntimeError:1")
SAMPLE_FILES = [("transactions", "transactions_with_errors.csv"), ("transactions", "transactions.jsonl"),
                ("metrics", "metrics.json"), ("user_actions", "user_actions.csv"),
                ("transactions", "rejected/transactions_mostly_invalid.jsonl")]
WAIT_MS = 60_000


def _browser_available() -> None:
    """Skip where Chromium or Playwright is missing; .ci/prepare installs both (Chromium as root), so in CI it fails instead."""
    missing = [what for what, present in (("chromium", Path(CHROMIUM).exists()),
                                          ("playwright", _importable("playwright"))) if not present]
    if missing:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"the browser test needs {', '.join(missing)} (see .ci/prepare)")


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class Samples:
    """``etl serve`` with the samples run through it: the first FAILED at Transform."""

    def __init__(self, server: Server, log: Path, runs: dict[str, str]) -> None:
        self.server, self.log, self.runs = server, log, runs
        self.failed = runs["transactions_with_errors.csv"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Iterator[Samples]:
    _browser_available()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as output:
        server = start_server(*FAULTS, output=output)
        try:
            runs = {}
            for dataset, name in SAMPLE_FILES:  # one after another, so that the faults hit the first
                runs[name] = server.upload(f"raw/{dataset}/{Path(name).name}", SAMPLES / name)
                server.finished(runs[name])
            yield Samples(server, log, runs)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def browser(samples) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh page that fails the test on any script error or console error (a CSP violation is one)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield opened
    context.close()
    assert not errors, errors


def test_the_dashboard_lists_the_samples_runs_shows_the_failure_and_redrives_it(samples, page, tmp_path):
    from playwright.sync_api import expect

    api = samples.server.api
    # GIVEN the dashboard of `etl serve`
    page.goto(api + "/")

    # THEN it lists every sample's run, newest first
    page.wait_for_selector(f"#runs tr[data-run='{samples.runs[SAMPLE_FILES[-1][1]]}']")
    listed = page.eval_on_selector_all("#runs tbody tr", "rows => rows.map(r => r.dataset.run)")
    assert listed == [samples.runs[name] for _, name in reversed(SAMPLE_FILES)]
    page.screenshot(path=tmp_path / "runs.png", full_page=True)

    # WHEN filtered by status, only the failed run is left
    page.select_option("select[name=status]", "FAILED")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    assert page.get_attribute("#runs tbody tr", "data-run") == samples.failed

    # WHEN the failed run is opened, its page names the failed state and its timeline shows it and the retry
    page.click(f"#runs a[href='#/runs/{samples.failed}']")
    page.wait_for_selector("#failed-state")
    assert page.text_content("#failed-state") == "Transform" and page.text_content("#run-status") == "FAILED"
    assert "failed" in (page.get_attribute("#timeline tr[data-state='Transform']", "class") or "")
    ingest = page.inner_text("#timeline tr[data-state='Ingest']").split("\t")
    assert ingest[4:6] == ["2", "2 s"]  # attempts, retry waits
    # the Map that processes the chunks failed because its one chunk failed at Transform
    failed = page.locator("#timeline tr.failed")
    assert [failed.nth(i).get_attribute("data-state") for i in range(failed.count())] == ["ProcessChunks", "Transform"]
    assert page.locator("#timeline svg rect.bar.failed").count() == 2
    page.screenshot(path=tmp_path / "run-failed.png", full_page=True)

    # WHEN its redrive button is pressed, the page follows the run to SUCCEEDED, and the API agrees
    page.click("#redrive")
    page.wait_for_selector("#run-status .status-SUCCEEDED", timeout=WAIT_MS)
    assert samples.server.get(f"/runs/{samples.failed}")["status"] == "SUCCEEDED"
    assert page.locator("#timeline tr[data-state='Transform']").count() == 2 and page.locator("#outcome").count() == 0
    page.screenshot(path=tmp_path / "run-redriven.png", full_page=True)

    # AND the dataset's page charts every run of the dataset
    page.click("a[href='#/datasets/transactions']")
    page.wait_for_selector("#trends svg")
    transactions = sum(dataset == "transactions" for dataset, _ in SAMPLE_FILES)
    assert page.locator("#trends section").count() == 3
    assert page.locator("#trends section:first-child circle").count() == 2 * transactions - 1  # a rejected run wrote nothing
    page.screenshot(path=tmp_path / "dataset.png", full_page=True)

    # WHEN the failed run's quarantine letter is replayed from the dead letters' page
    page.click("nav a[data-nav=dlq]")
    page.wait_for_selector("#letters")
    [letter] = [m for m in samples.server.get("/dlq?limit=100")["messages"] if m["run_id"] == samples.failed]
    page.screenshot(path=tmp_path / "dead-letters.png", full_page=True)
    page.click(f"button[data-replay='{letter['message_id']}']")
    replay = page.text_content(f"tr[data-message='{letter['message_id']}'] span a")  # the new run, linked

    # THEN a fresh run of the same object succeeds and the letter is gone
    assert replay and samples.server.finished(replay)["replay_of"] == samples.failed
    assert samples.server.get(f"/runs/{replay}")["status"] == "SUCCEEDED"
    expect(page.locator(f"tr[data-message='{letter['message_id']}']")).to_have_count(0, timeout=WAIT_MS)


def test_a_page_of_another_origin_cannot_drive_the_local_api(samples, browser):
    from playwright.sync_api import expect

    # GIVEN a page served from another origin (another port on 127.0.0.1) that posts a replay of every letter
    api = samples.server.api
    other = ThreadingHTTPServer(("127.0.0.1", 0), _page_handler(
        f"<script>fetch('{api}/dlq/replay', {{method: 'POST', mode: 'no-cors', body: '{{\"all\": true}}'}})"
        ".finally(() => document.title = 'sent')</script>"))
    threading.Thread(target=other.serve_forever, daemon=True).start()
    letters = [m["message_id"] for m in samples.server.get("/dlq?limit=100")["messages"]]
    assert letters  # (the rejected sample's, at least)
    page = browser.new_page()
    try:
        # WHEN the browser opens it
        page.goto(f"http://127.0.0.1:{other.server_address[1]}/")
        expect(page).to_have_title("sent")
    finally:
        page.close()
        other.shutdown()
        other.server_close()
    # THEN the request reached the API and was refused: every letter is still there
    assert '"POST /dlq/replay HTTP/1.1" 403' in samples.log.read_text()
    assert [m["message_id"] for m in samples.server.get("/dlq?limit=100")["messages"]] == letters


def _page_handler(html: str) -> type[BaseHTTPRequestHandler]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Page


def test_a_site_named_at_127_0_0_1_is_refused(samples):
    # DNS rebinding: such a site's page is same-origin with itself, and names itself in Host
    response = requests.get(samples.server.api + "/runs", headers={"Host": f"evil.example:{urlsplit(samples.server.api).port}"}, timeout=10)
    assert (response.status_code, response.json()["error"]) == (403, "forbidden")


def test_etl_dashboard_serves_the_same_page_and_its_calls(samples, page, tmp_path):
    # GIVEN `etl dashboard` in front of the API (loopback, so its client does not sign)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "etl_local.cli", "dashboard", "--api", samples.server.api, "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        # WHEN the browser opens it, THEN the page is the API's and lists the same runs through it
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector(f"#runs tr[data-run='{samples.failed}']")
        assert page.locator("#runs tbody tr").count() == len(samples.server.get("/runs")["runs"])
        page.screenshot(path=tmp_path / "through-etl-dashboard.png", full_page=True)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0 and f"http://127.0.0.1:{port}/" in out and "stopped" in err
