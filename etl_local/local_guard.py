"""What the servers ``etl serve`` and ``etl dashboard`` open on 127.0.0.1 refuse: requests of web pages of other sites.

Neither asks the caller for credentials (``etl serve``'s API has none; ``etl dashboard`` signs with
the user's own), so no page the user opens elsewhere may drive them.  Two checks:

* the ``Host`` the request names must be a loopback name: a site whose name was made to resolve
  to 127.0.0.1 (DNS rebinding) is same-origin with itself, and names itself in ``Host``;
* its ``Origin``, when a browser sent one, must be the server's own
  (:func:`chalicelib.api.responses.cross_site`, which the API applies on AWS as well).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from chalicelib.api.responses import cross_site
from etl_local.client import LOOPBACK_HOSTS


def loopback(host: str | None) -> bool:
    """Whether a ``Host`` header (``name[:port]``) names this machine by a loopback name."""
    try:
        return urlsplit("//" + (host or "")).hostname in LOOPBACK_HOSTS
    except ValueError:  # not a host at all ("[::1" and the like)
        return False


def refusal(host: str | None, origin: str | None) -> str | None:
    """Why a local server refuses a request with these ``Host`` and ``Origin`` headers; ``None`` if it does not."""
    if not loopback(host):
        return f"this server answers requests to 127.0.0.1 or localhost only, not to {host!r}"
    if cross_site(origin, host):
        return "requests from web pages of other origins are refused (Origin header)"
    return None
