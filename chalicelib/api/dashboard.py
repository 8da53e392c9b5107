"""``GET /``: the operator dashboard, one static page whose script draws what the other routes answer.

The page is three files shipped in the package (``static/``: HTML, CSS, vanilla JavaScript; no build
step, nothing fetched from elsewhere), served as one document with the style and the script inline, so
the page is one route.  Its Content-Security-Policy admits exactly those two inline texts (by hash) and
connections to its own origin only: nothing else runs or loads, whatever the data holds.

The page carries no data; every call its script makes is an API route with that route's own
authorization (IAM on AWS, where a browser cannot sign: ``etl dashboard`` serves it locally and signs).
"""
from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api.routes import iam

STATIC = Path(__file__).parent / "static"
STYLE_MARK = "/* dashboard.css */"
SCRIPT_MARK = "/* dashboard.js */"

dashboard_api = Blueprint(__name__)


def _source_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def dashboard_page() -> tuple[str, str]:
    """The page and its Content-Security-Policy."""
    html, css, js = ((STATIC / name).read_text() for name in ("dashboard.html", "dashboard.css", "dashboard.js"))
    if html.count(STYLE_MARK) != 1 or html.count(SCRIPT_MARK) != 1 or "</" in css + js:
        # "</" would end the inline element early; one mark each, or a hash would cover the wrong text
        raise ValueError("the dashboard's HTML needs one style and one script mark, and its CSS and JS no '</'")
    policy = "; ".join((
        "default-src 'none'",
        f"script-src {_source_hash(js)}",
        f"style-src {_source_hash(css)}",
        "connect-src 'self'",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ))
    return html.replace(STYLE_MARK, css).replace(SCRIPT_MARK, js), policy


@dashboard_api.route("/", methods=["GET"], authorizer=iam)
def dashboard() -> Response:
    page, policy = dashboard_page()
    return Response(body=page, status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",  # a new deployment's page is picked up at once
    })
