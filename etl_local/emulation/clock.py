"""Virtual time for retry waits.

moto's interpreter sleeps for real between retries.  Locally the wait is
skipped, but the clock that stamps history events moves forward by the wait,
so the execution history shows the same gaps (2 s, 4 s, ...) as on AWS.
"""
from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Iterator
from unittest import mock

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.eval.event import event_manager


class VirtualClock:
    """Accumulates skipped waits; ``scale`` > 0 still sleeps that fraction of each wait."""

    def __init__(self, scale: float = 0.0) -> None:
        self.scale = scale
        self.offset_seconds = 0.0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.offset_seconds += seconds
            self.waits.append(seconds)
        if self.scale > 0:
            time.sleep(seconds * self.scale)

    def now(self) -> datetime.datetime:
        with self._lock:
            offset = self.offset_seconds
        return datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=offset)

    @contextlib.contextmanager
    def installed(self) -> Iterator[VirtualClock]:
        """Route the interpreter's retry sleeps and history timestamps through this clock."""
        sleeper = mock.Mock(wraps=time)
        sleeper.sleep = self.sleep
        with mock.patch.object(retrier_decl, "time", sleeper), \
                mock.patch.object(event_manager.EventManager, "_get_current_timestamp", staticmethod(self.now)):
            yield self
