"""Replaying dead letters on plain moto resources: one run per letter's content, however often it was sent."""
from __future__ import annotations

import json

from chalicelib.control import deadletters
from tests.conftest import put_raw

KEY = "raw/transactions/t.jsonl"


def send_letter(world, source: dict, run_id: str = "t-0123456789abcdef", kind: str = "REJECTED") -> None:
    body = {"kind": kind, "run_id": run_id, "dataset": "transactions", "source": source, "reason": "why"}
    world.client("sqs").send_message(QueueUrl=world.queue_url, MessageBody=json.dumps(body))


def test_a_letter_sent_twice_is_replayed_as_one_run(world, services):
    # GIVEN the same dead letter twice (the state machine's retry after a lost SQS answer)
    source = put_raw(world, KEY, b'{"a": 1}\n')
    send_letter(world, source)
    send_letter(world, source)
    # WHEN all are replayed
    results = deadletters.replay(services)["results"]
    # THEN one run started, the copy found it, and the queue is empty
    assert sorted(r["outcome"] for r in results) == ["already_started", "started"]
    assert len({r["run_id"] for r in results}) == 1 and len(services.executions.executions) == 1  # type: ignore[attr-defined]
    assert deadletters.peek(services)["messages"] == []


def test_letters_of_different_runs_of_one_object_replay_separately(world, services):
    source = put_raw(world, KEY, b'{"a": 1}\n')
    send_letter(world, source, run_id="t-1111111111111111")
    send_letter(world, source, run_id="t-2222222222222222")  # e.g. a replay that was rejected again
    results = deadletters.replay(services)["results"]
    assert [r["outcome"] for r in results] == ["started", "started"] and len({r["run_id"] for r in results}) == 2
