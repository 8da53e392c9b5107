"""The SQS dead-letter queue the state machine sends rejected and quarantined runs to."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.errors import ConfigurationError, transient_aws_errors

_BATCH = 10  # ReceiveMessage returns at most 10 messages
_MAX_SCANNED = 1000  # messages one replay looks through for the ones it was asked for


@dataclass(frozen=True)
class DeadLetter:
    """One message: its body as the state machine wrote it, and when it was sent."""

    message_id: str
    body: dict[str, Any]
    sent_at: datetime
    receive_count: int
    receipt_handle: str

    def age_seconds(self, now: datetime | None = None) -> float:
        return round(((now or datetime.now(UTC)) - self.sent_at).total_seconds(), 3)


def _letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    try:
        body = json.loads(message["Body"])
    except ValueError:
        body = {"kind": "UNREADABLE", "reason": "the message body is not JSON", "text": message["Body"][:1000]}
    return DeadLetter(
        message_id=message["MessageId"],
        body=body if isinstance(body, dict) else {"kind": "UNREADABLE", "text": str(body)[:1000]},
        sent_at=datetime.fromtimestamp(int(attributes.get("SentTimestamp", "0")) / 1000, UTC),
        receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
        receipt_handle=message["ReceiptHandle"],
    )


class DeadLetterQueue:
    """Reads, holds and deletes dead-letter messages.

    SQS has no true peek: :meth:`peek` receives with a visibility timeout of 0,
    so the messages stay available to everyone, and stops when a round brings
    no message it has not seen.

    Parameters
    ----------
    client
        A boto3 SQS client.
    queue_url
        The dead-letter queue.
    """

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def _receive(self, visibility_seconds: int, wait_seconds: int) -> list[DeadLetter]:
        if not self._url:
            raise ConfigurationError("DEAD_LETTER_QUEUE_URL is not set")
        with transient_aws_errors("receive dead letters"):
            response = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=_BATCH,
                VisibilityTimeout=visibility_seconds,
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            )
        return [_letter(m) for m in response.get("Messages", [])]

    def peek(self, limit: int) -> list[DeadLetter]:
        """Up to ``limit`` messages, oldest first, left in the queue."""
        seen: dict[str, DeadLetter] = {}
        while len(seen) < limit:
            fresh = [m for m in self._receive(visibility_seconds=0, wait_seconds=0) if m.message_id not in seen]
            if not fresh:
                break
            seen.update((m.message_id, m) for m in fresh)
        return sorted(seen.values(), key=lambda m: m.sent_at)[:limit]

    def hold(
        self, wanted: set[str] | None, *, limit: int = 100, hold_seconds: int = 120
    ) -> tuple[list[DeadLetter], list[DeadLetter]]:
        """Receive messages and keep them invisible for ``hold_seconds``.

        Returns the wanted messages (without ``wanted``: up to ``limit`` of any)
        and the others received on the way, which the caller should :meth:`release`.
        """
        taken: dict[str, DeadLetter] = {}
        others: dict[str, DeadLetter] = {}
        while (wanted is None and len(taken) < limit) or (wanted is not None and not wanted <= taken.keys()):
            if len(others) >= _MAX_SCANNED:  # the rest of a long queue stays untouched
                break
            batch = self._receive(visibility_seconds=hold_seconds, wait_seconds=1)
            if not batch:
                break
            for message in batch:
                wanted_here = message.message_id in wanted if wanted is not None else len(taken) < limit
                target = taken if wanted_here else others
                target[message.message_id] = message
        return sorted(taken.values(), key=lambda m: m.sent_at), list(others.values())

    def release(self, messages: list[DeadLetter]) -> None:
        """Make held messages visible again."""
        for message in messages:
            with transient_aws_errors(f"release dead letter {message.message_id}"):
                self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0)

    def delete(self, message: DeadLetter) -> None:
        with transient_aws_errors(f"delete dead letter {message.message_id}"):
            self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message.receipt_handle)
