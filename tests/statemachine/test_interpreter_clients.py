"""The interpreter's tasks share their SDK clients (moto builds one per task, at 30-40 ms of CPU each)."""
from __future__ import annotations

from collections import Counter
from unittest import mock

import boto3

from etl_local.emulation.world import LocalAws
from etl_local.runner import run_file
from tests.conftest import SAMPLES
from tests.statemachine.test_chunks import TINY_MB


def test_a_run_builds_one_interpreter_client_per_service(tmp_path, registry):
    with LocalAws() as world:
        # GIVEN a count of the clients the interpreter builds (by keyword, as moto does; the harness's are positional)
        with mock.patch("boto3.client", wraps=boto3.client) as built:
            # WHEN a file runs in three chunks: nine Lambda tasks and the run record's DynamoDB tasks
            report = run_file(world, SAMPLES / "transactions.jsonl", None, tmp_path, registry, chunk_mb=TINY_MB)
        assert (report.status, report.chunks) == ("SUCCEEDED", 3)
        assert len(world.bridge.invocations) == 9
    # THEN one client per service served them all
    by_service = Counter(call.kwargs["service_name"] for call in built.call_args_list if "service_name" in call.kwargs)
    assert by_service["lambda"] == 1 and by_service["dynamodb"] == 1
    assert set(by_service.values()) == {1}
