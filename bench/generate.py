"""Deterministic transaction files of any size, with a share of invalid records."""
from __future__ import annotations

import csv
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

START = datetime(2024, 3, 1, tzinfo=UTC)
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF"]
MERCHANTS = ["Coffee Corner", "Book Barn", "Gadget Hub", "Grocery Go", "Café Élan", "Kiosk \"24/7\""]
FIELDS = ["transaction_id", "timestamp", "user_id", "amount", "currency", "merchant"]


def _valid(rng: random.Random, i: int, spacing: float) -> dict[str, Any]:
    record: dict[str, Any] = {
        "transaction_id": f"txn-{i:010d}",
        "timestamp": (START + timedelta(seconds=int(i * spacing) + rng.randrange(7))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user_id": f"user-{rng.randrange(50_000):06d}",
        "amount": round(rng.lognormvariate(3.5, 1.6), 2),
        "currency": rng.choice(CURRENCIES),
    }
    if rng.random() < 0.8:
        record["merchant"] = rng.choice(MERCHANTS)
    return record


def _broken(rng: random.Random, record: dict[str, Any]) -> dict[str, Any]:
    """One of the mistakes real feeds make."""
    kind = rng.randrange(5)
    if kind == 0:
        record["amount"] = -record["amount"] - 1
    elif kind == 1:
        record["currency"] = record["currency"].lower()
    elif kind == 2:
        del record["user_id"]
    elif kind == 3:
        record["channel"] = "web"
    else:
        record["timestamp"] = "2024-13-45T99:00:00Z"
    return record


def records(first: int, count: int, invalid_share: float = 0.02, seed: int = 7, spacing: float = 7.0) -> list[dict[str, Any]]:
    """Records ``first`` to ``first + count - 1``, ``spacing`` seconds apart: each drawn from its own
    seeded generator, so the same index gives the same record whatever the chunking."""
    rows = []
    for i in range(first, first + count):
        rng = random.Random(seed * 1_000_003 + i)
        rows.append(_broken(rng, _valid(rng, i, spacing)) if rng.random() < invalid_share else _valid(rng, i, spacing))
    return rows


def _write(out: TextIO, rows: list[dict[str, Any]], fmt: str, header: bool) -> None:
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS + ["channel"], extrasaction="ignore", lineterminator="\n")
        if header:
            writer.writeheader()
        writer.writerows(rows)
    elif fmt == "json":  # one JSON array: "[" before the first record, commas between
        out.write(("[\n" if header else ",\n") + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    else:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write(path: Path, count: int, *, fmt: str = "jsonl", invalid_share: float = 0.02, gzipped: bool = False, seed: int = 7,
          span_hours: float = 24.0) -> Path:
    """Write ``count`` records to ``path`` (``fmt``: JSON Lines, CSV or a JSON array; optionally gzip) and return it.

    The records' timestamps spread evenly over ``span_hours`` (a daily drop by default), which
    sets how many hourly partitions, and so Parquet files, the output has.
    """
    spacing = span_hours * 3600 / max(count, 1)
    chunk = 100_000  # bounded memory for files up to gigabytes
    raw = gzip.open(path, "wt", encoding="utf-8", newline="") if gzipped else open(path, "w", encoding="utf-8", newline="")
    with raw as out:
        for first in range(0, count, chunk):
            _write(out, records(first, min(chunk, count - first), invalid_share, seed, spacing), fmt, header=first == 0)
        if fmt == "json":
            out.write("\n]\n" if count else "[]\n")
    return path
