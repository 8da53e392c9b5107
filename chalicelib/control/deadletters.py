"""Looking at and replaying the dead-letter queue."""
from __future__ import annotations

from typing import Any

from chalicelib.control.errors import ControlError, InvalidRequestError
from chalicelib.control.runs import start_run
from chalicelib.observability import logger
from chalicelib.services import Services
from chalicelib.storage.deadletters import DeadLetter
from chalicelib.times import utc_timestamp

MAX_PEEK = 100
MAX_REPLAY = 100


def letter_view(letter: DeadLetter) -> dict[str, Any]:
    """A dead-letter message as the API shows it."""
    body = letter.body
    return {
        "message_id": letter.message_id,
        "kind": body.get("kind"),
        "run_id": body.get("run_id"),
        "dataset": body.get("dataset"),
        "source": body.get("source"),
        "reason": body.get("reason"),
        "counts": {"in": body.get("records_in"), "valid": body.get("records_valid"), "invalid": body.get("records_invalid")},
        "quarantine": body.get("quarantine"),
        "first_reasons": body.get("reasons") or [],
        "sent_at": utc_timestamp(letter.sent_at),
        "age_seconds": letter.age_seconds(),
        "receive_count": letter.receive_count,
    }


def peek(services: Services, limit: int = 10) -> dict[str, Any]:
    """Dead-letter messages, oldest first, left in the queue."""
    if not 1 <= limit <= MAX_PEEK:
        raise InvalidRequestError(f"limit must be between 1 and {MAX_PEEK}, got {limit}")
    return {"messages": [letter_view(m) for m in services.deadletters.peek(limit)]}


def replay_token(letter: DeadLetter) -> str:
    """What names the replay run: the message's content, not its id.

    A state machine's retry after a lost SQS answer sends the same dead letter
    twice; both copies name the same run, so replaying both starts one run (the
    second finds it ``already_started``).  A replay that fails again sends a
    letter of its own run, so replaying that one starts a new run.
    """
    body = letter.body
    run_id = body.get("run_id")
    return f"{body.get('kind') or 'letter'}-{run_id}" if run_id else letter.message_id


def _replay_one(services: Services, letter: DeadLetter) -> dict[str, Any]:
    body, source = letter.body, letter.body.get("source")
    result: dict[str, Any] = {"message_id": letter.message_id, "replay_of": body.get("run_id")}
    if not isinstance(source, dict) or not source.get("bucket") or not source.get("key"):
        return {**result, "outcome": "skipped", "error": "invalid_message", "message": "the message names no source object"}
    try:
        started = start_run(
            services, source["key"], bucket=source["bucket"], dataset=body.get("dataset"), version=source.get("version"),
            replay=replay_token(letter), replay_of=body.get("run_id"),
        )
    except ControlError as error:
        return {**result, "outcome": "skipped", "error": error.code, "message": str(error)}
    except Exception as error:
        logger.exception("dead-letter replay failed", extra={"message_id": letter.message_id})
        return {**result, "outcome": "skipped", "error": "failed", "message": f"{type(error).__name__}: {error}"}
    services.deadletters.delete(letter)  # only once its new run exists
    return {
        **result,
        "outcome": "started" if started.created else "already_started",
        "run_id": started.run_id,
        "execution_arn": started.execution_arn,
    }


def replay(services: Services, message_ids: list[str] | None = None) -> dict[str, Any]:
    """Start a fresh run for each message's source object; delete each message once its run started.

    Parameters
    ----------
    message_ids
        The messages to replay; ``None`` for every message (at most
        :data:`MAX_REPLAY` per call: call again while ``remaining`` is true).

    Returns
    -------
    dict
        ``results``: per message, ``outcome`` ``started``, ``already_started``
        (a replay of this message, or of a copy of it, had started before), ``skipped`` (kept in
        the queue, with ``error`` and ``message``) or ``not_found`` (not in the
        queue, or held by another replay for up to two minutes).
    """
    wanted = None if message_ids is None else set(message_ids)
    taken, others = services.deadletters.hold(wanted, limit=MAX_REPLAY)
    results: list[dict[str, Any]] = []
    try:
        results = [_replay_one(services, letter) for letter in taken]
    finally:
        replayed = {r["message_id"] for r in results if r["outcome"] != "skipped"}
        services.deadletters.release(others + [letter for letter in taken if letter.message_id not in replayed])
    found = {letter.message_id for letter in taken}
    results += [{"message_id": m, "outcome": "not_found"} for m in (message_ids or []) if m not in found]
    return {"results": results, "remaining": message_ids is None and len(taken) == MAX_REPLAY}
