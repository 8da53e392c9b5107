"""Routes for the dead-letter queue: peek and replay."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.responses import handles_errors, json_response
from chalicelib.api.routes import BODY_TYPES, iam, int_param, query, request_body
from chalicelib.control import deadletters
from chalicelib.services import default_services

dlq_api = Blueprint(__name__)


@dlq_api.route("/dlq", methods=["GET"], authorizer=iam)
@handles_errors
def peek_dead_letters() -> Response:
    return json_response(deadletters.peek(default_services(), int_param(query(dlq_api), "limit", 10)))


@dlq_api.route("/dlq/replay", methods=["POST"], authorizer=iam, content_types=BODY_TYPES)
@handles_errors
def replay_dead_letters() -> Response:
    body = request_body(dlq_api, "ReplayDeadLetters")
    return json_response(deadletters.replay(default_services(), body.get("message_ids")))
