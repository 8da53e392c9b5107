"""The REST API on 127.0.0.1 for ``etl serve``: Chalice's local server, answering every method as the API would.

Chalice's request handler knows GET, PUT, POST, HEAD, DELETE, PATCH and OPTIONS only, so
http.server answered any other method (``TRACE``, ``CONNECT``, ...) with 501 and an HTML page;
and Chalice answers a known method that a route lacks with an error body of its own.  Here both
get 405 with the API's JSON error (:func:`chalicelib.api.responses.error_response`) and an
``Allow`` header naming the route's methods.  A path no route matches is Chalice's to answer,
whatever the method.  Requests of web pages of other sites get 403 first (:mod:`etl_local.local_guard`).
"""
from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

from chalice import Chalice, Response
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, RouteMatcher, create_local_server

from chalicelib.api.responses import error_response
from etl_local.local_guard import refusal


class ApiRequestHandler(ChaliceRequestHandler):
    """Chalice's local request handler, with the local guard's 403 and the API's 405 for a method the route does not have."""

    def __init__(self, request: Any, client_address: tuple[str, int], server: Any,
                 app_object: Chalice, config: Config) -> None:
        self._routes = RouteMatcher(list(app_object.routes))
        self._methods = {path: sorted(methods) for path, methods in app_object.routes.items()}
        super().__init__(request, client_address, server, app_object, config)  # handles the request

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; the methods Chalice has no handler for end here.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        refused = refusal(self.headers.get("Host"), self.headers.get("Origin"))
        if refused is not None:
            self._parse_payload()  # read the body, so the connection can carry the next request
            self._answer(error_response(403, "forbidden", refused))
            return
        allowed = self._allowed_methods()
        # OPTIONS: Chalice answers preflight requests for every route itself.
        if allowed is None or self.command in allowed or self.command == "OPTIONS":
            self._generic_handle()
            return
        self._parse_payload()  # read the body, so the connection can carry the next request
        message = f"{self.command} is not allowed on {urlsplit(self.path).path}; allowed: {', '.join(allowed)}"
        self._answer(error_response(405, "method_not_allowed", message, {"Allow": ", ".join(allowed)}))

    def _answer(self, response: Response) -> None:
        answer = response.to_dict()
        self._send_http_response(answer["statusCode"], answer["headers"], answer["body"])

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def _allowed_methods(self) -> list[str] | None:
        """The methods of the route the path matches (None: no route matches)."""
        try:
            return self._methods[self._routes.match_route(self.path).route]
        except ValueError:
            return None


def local_api_server(app: Chalice, config: Config, host: str, port: int) -> LocalDevServer:
    """Chalice's local server for ``app`` on ``host:port``, its requests handled by :class:`ApiRequestHandler`."""
    server = create_local_server(app, config, host, port)  # also makes the app answer as a local one
    # create_local_server takes no handler class: give its HTTP server ours.
    server.server.RequestHandlerClass = functools.partial(ApiRequestHandler, app_object=app, config=config)
    return server
