"""Regenerate the bundled sample files (deterministic): python samples/generate.py"""
from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
START = datetime(2024, 3, 15, 8, 0, tzinfo=UTC)


def stamp(i: int, hours: int = 0) -> str:
    """Records every 17 minutes 23 seconds, so a file spans several hourly partitions."""
    return (START + timedelta(hours=hours, seconds=i * 1043)).strftime("%Y-%m-%dT%H:%M:%SZ")


def transactions() -> None:
    amounts = [3.5, 12.0, 45.99, 150.0, 999.99, 1000.0, 1000.01, 2500.0, 0, 7.25, 88.8, 640.0]
    currencies = ["USD", "EUR", "GBP", "JPY"]
    merchants = ["Coffee Corner", "Book Barn", "Gadget Hub", "Grocery Go", None]
    with open(HERE / "transactions.jsonl", "w") as out:
        for i in range(24):
            record = {"transaction_id": f"txn-{1000 + i}", "timestamp": stamp(i), "user_id": f"user-{i * 7 % 9:03d}",
                      "amount": amounts[i % len(amounts)], "currency": currencies[i % 4]}
            if i == 5:
                record["timestamp"] = "2024-03-15T11:30:00+02:00"  # an offset: 09:30 UTC
            if merchants[i % 5]:
                record["merchant"] = merchants[i % 5]
            out.write(json.dumps(record) + "\n")
    # 30 records, 2 invalid (6.7%: under the 10% limit, so the run succeeds with a quarantine)
    with open(HERE / "transactions_with_errors.csv", "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["transaction_id", "timestamp", "user_id", "amount", "currency", "merchant"])
        shops = ["Corner Shop, Ltd.", 'Kiosk "24/7"', "", "Café Élan", "Night\nMarket"]
        for i in range(30):
            row = [f"txn-2{i:03d}", stamp(i, 6), f"user-{i % 6:03d}", str(amounts[i * 5 % len(amounts)]),
                   currencies[(i + 1) % 4], shops[i % 5]]
            if i == 9:
                row[3] = "-20.00"  # negative amount
            if i == 17:
                row[4] = "usd"  # not three upper-case letters
            writer.writerow(row)


def user_actions() -> None:
    actions = ["view", "click", "purchase", "login", "logout"]
    durations = [5, 45, 59.9, 60, 300, 599, 600, 3600]
    with open(HERE / "user_actions.csv", "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["event_id", "timestamp", "user_id", "action", "session_duration_seconds"])
        for i in range(20):
            writer.writerow([f"evt-{i:04d}", stamp(i, 1), f"user-{i % 5:03d}", actions[i % 5], durations[i % 8]])


def metrics() -> None:
    values = {"cpu_utilization": [12.5, 95.0, 55.0], "memory_utilization": [60.0, 91.5, 30.0],
              "latency_ms": [120, 1500, 80], "error_rate": [0.01, 0.2, 0.0],
              "requests_per_second": [1200, 6400, 50], "queue_depth": [3, 15000, -1]}
    units = {"cpu_utilization": "percent", "memory_utilization": "percent", "latency_ms": "ms",
             "error_rate": "ratio", "requests_per_second": "count/s"}
    records = []
    for i in range(18):
        name = list(values)[i % 6]
        record = {"timestamp": stamp(i, 12), "metric_name": name, "value": values[name][i // 6 % 3]}
        if name in units:
            record["unit"] = units[name]
        records.append(record)
    (HERE / "metrics.json").write_text(json.dumps(records, indent=2) + "\n")


def rejected() -> None:
    """Mostly invalid: the run is REJECTED and nothing reaches processed/."""
    (HERE / "rejected").mkdir(exist_ok=True)
    with open(HERE / "rejected" / "transactions_mostly_invalid.jsonl", "w") as out:
        for i in range(10):
            record = {"transaction_id": f"bad-{i}", "timestamp": stamp(i), "user_id": "user-001",
                      "amount": 10.0 if i < 3 else -1, "currency": "USD"}
            if i == 5:
                record = {"transaction_id": "bad-5", "amount": "ten"}
            out.write(json.dumps(record) + "\n")
        out.write("{not json at all\n")


if __name__ == "__main__":
    transactions()
    user_actions()
    metrics()
    rejected()
