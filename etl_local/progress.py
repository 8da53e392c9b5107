"""``etl run``'s progress line on a terminal: chunks validated, records read, records per second.

It follows the run record (validate adds each chunk's counts to it once), so it
shows what an operator would see through the API, and costs a read of one item
twice a second.  Off with ``--json`` and when the output is not a terminal.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TextIO

from chalicelib import run_record as r
from chalicelib.storage.runs import RunStore

INTERVAL_SECONDS = 0.5
CLEAR_LINE = "\r\033[K"


def progress_line(item: r.RunItem | None, seconds: float) -> str | None:
    """What the run has done so far, or ``None`` before it has chunks."""
    if item is None or not item.get(r.CHUNKS):
        return None
    records = int(item.get(r.RECORDS_IN) or 0)
    done = len(item.get(r.CHUNKS_VALIDATED) or [])
    rate = f", {records / seconds:,.0f} records/s" if seconds > 0 and records else ""
    return f"{item[r.RUN_ID]}: {done}/{item[r.CHUNKS]} chunks validated, {records:,} records{rate}"


@contextlib.contextmanager
def shown(runs: RunStore, run_id: str, stream: TextIO) -> Iterator[None]:
    """Keep a progress line of run ``run_id`` on ``stream`` until the block ends, then clear it."""
    stop = threading.Event()
    started = time.monotonic()

    def follow() -> None:
        while not stop.wait(INTERVAL_SECONDS):
            line = progress_line(runs.get(run_id), time.monotonic() - started)
            if line is not None:
                stream.write(CLEAR_LINE + line)
                stream.flush()

    thread = threading.Thread(target=follow, name="etl-run-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        stream.write(CLEAR_LINE)
        stream.flush()
