"""SNS alerts sent by Lambda code (the state machine publishes its own)."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import transient_aws_errors

_SUBJECT_LIMIT = 100  # SNS rejects longer subjects


class Notifier:
    """Publishes JSON messages to one topic."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic_arn = topic_arn

    @property
    def enabled(self) -> bool:
        return bool(self._topic_arn)

    def publish(self, subject: str, message: dict[str, Any]) -> str | None:
        """Publish and return the message id (``None`` when no topic is configured)."""
        if not self.enabled:
            return None
        with transient_aws_errors(f"publish to {self._topic_arn}"):
            response = self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=subject[:_SUBJECT_LIMIT],
                Message=json.dumps(message, default=str, indent=1),
            )
        return response["MessageId"]
