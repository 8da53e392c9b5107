"""Putting run items straight into the run table, for tests that need a run in a given state."""
from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer

from chalicelib import run_record as r
from chalicelib.services import Services

_SERIALIZER = TypeSerializer()


def put_run(services: Services, run_id: str, **attributes: Any) -> None:
    """Store a run item as it would look after the transitions that led to ``attributes``."""
    item = {r.RUN_ID: run_id, r.KIND: r.RUN_KIND, r.STARTED_AT: "2024-03-15T08:00:00.000Z", **attributes}
    unknown = item.keys() - r.ATTRIBUTES
    assert not unknown, f"not run attributes: {sorted(unknown)}"
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")  # the local world's and the plain fakes' region
    stored = json.loads(json.dumps(item), parse_float=Decimal)  # DynamoDB numbers are Decimals
    boto3.client("dynamodb", region_name=region).put_item(
        TableName=services.settings.runs_table, Item={k: _SERIALIZER.serialize(v) for k, v in stored.items()})
