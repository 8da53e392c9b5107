"""The DynamoDB run table: one item per run, keyed by ``run_id``.

Runs are listed newest first through three indexes sorted by ``started_at``:
all runs (every item carries the constant ``kind = "run"``), by status and by
dataset.  The table definition below is the one the local runtime and the
deployment templates create.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.errors import transient_aws_errors
from chalicelib.payloads import RunRef

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


RUN_KIND = "run"
INDEX_ALL = "runs_by_time"
INDEX_BY_STATUS = "runs_by_status"
INDEX_BY_DATASET = "runs_by_dataset"
_INDEX_KEYS = {INDEX_ALL: "kind", INDEX_BY_STATUS: "status", INDEX_BY_DATASET: "dataset"}
TTL_ATTRIBUTE = "expires_at"
_QUERY_PAGE = 100  # items read per query when a filter drops some
_MAX_QUERIES = 10  # bounds one request's reads; a short page with a next_token may follow
RETENTION_SECONDS = 180 * 24 * 3600  # DynamoDB's TTL deletes a run 180 days after it started


def table_definition(name: str) -> dict[str, Any]:
    """``CreateTable`` arguments of the run table (on-demand, indexes for listing)."""
    attributes = {"run_id", "started_at", *_INDEX_KEYS.values()}
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": "run_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": key, "KeyType": "HASH"},
                    {"AttributeName": "started_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in _INDEX_KEYS.items()
        ],
    }


def utc_now() -> str:
    return utc_timestamp(datetime.now(UTC))


def utc_timestamp(moment: datetime | str) -> str:
    """``2024-03-15T08:00:00.000Z``: one format, so timestamps sort as strings.

    Step Functions writes ``$$.Execution.StartTime`` as ``...Z`` on AWS and as
    ``...+00:00`` on moto; both become this.
    """
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {moment.isoformat()}")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def expiry_for(started_at: str) -> int:
    """Epoch second at which the run table's TTL may delete a run."""
    return int(datetime.fromisoformat(started_at).timestamp()) + RETENTION_SECONDS


class InvalidPageTokenError(ValueError):
    """A ``next_token`` that this table did not hand out."""


@dataclass(frozen=True)
class RunPage:
    """One page of runs, newest first; ``next_token`` is ``None`` on the last page."""

    runs: list[dict[str, Any]]
    next_token: str | None


def _encode_token(query: list[Any], key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"q": query, "k": key}, sort_keys=True).encode()).decode()


def _decode_token(token: str, query: list[Any]) -> dict[str, Any]:
    """The start key in ``token``, which must come from the same query (index, key, since, filter)."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidPageTokenError("next_token is not one this API returned") from error
    if not isinstance(decoded, dict) or not isinstance(decoded.get("k"), dict):
        raise InvalidPageTokenError("next_token is not one this API returned")
    if decoded.get("q") != query:
        raise InvalidPageTokenError("next_token belongs to a listing with other filters; repeat those filters or start over")
    return decoded["k"]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class RunStore:
    """Reads and writes run items.

    Parameters
    ----------
    client
        A boto3 DynamoDB client.
    table
        The run table's name.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def start(self, run: RunRef, *, replay_of: str | None = None) -> bool:
        """Record a new run; return ``False`` when another execution already owns it.

        The conditional write is what makes one object version never produce two
        runs: a duplicate S3 event starts a second execution, which finds the item
        owned by the first.  The owning execution may write again (a retried or
        redriven ingest).
        """
        source = run["source"]
        item = {
            "run_id": run["run_id"],
            "status": "RUNNING",
            "dataset": run["dataset"],
            "execution_arn": run["execution_id"],
            "source_bucket": source["bucket"],
            "source_key": source["key"],
            "source_version": source["version"],
            "source_etag": source["etag"],
            "source_size": source["size"],
            "started_at": utc_timestamp(run["started_at"]),
            "updated_at": utc_now(),
            "kind": RUN_KIND,
            "replay_of": replay_of,
            TTL_ATTRIBUTE: expiry_for(run["started_at"]),
        }
        try:
            with transient_aws_errors(f"put run {run['run_id']}"):
                self._ddb.put_item(
                    TableName=self._table,
                    Item={k: _SERIALIZER.serialize(v) for k, v in item.items() if v is not None},
                    ConditionExpression="attribute_not_exists(run_id) OR execution_arn = :arn",
                    ExpressionAttributeValues={":arn": {"S": run["execution_id"]}},
                )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def get(self, run_id: str) -> dict[str, Any] | None:
        with transient_aws_errors(f"get run {run_id}"):
            item = self._ddb.get_item(TableName=self._table, Key={"run_id": {"S": run_id}}, ConsistentRead=True).get("Item")
        return None if item is None else _plain({k: _DESERIALIZER.deserialize(v) for k, v in item.items()})

    def list(
        self, *, status: str | None = None, dataset: str | None = None, since: str | None = None,
        limit: int = 50, next_token: str | None = None,
    ) -> RunPage:
        """Runs newest first, from an index (never a table scan).

        Parameters
        ----------
        status, dataset
            Only runs with this status / of this dataset (both: the status index, filtered by dataset).
        since
            Only runs started at or after this time (a :func:`utc_timestamp`).
        limit
            At most this many runs on the page (fewer, with a ``next_token``, when a
            status + dataset filter matches few of the runs read).
        next_token
            Where the previous page ended.

        Raises
        ------
        InvalidPageTokenError
            When ``next_token`` was not returned by this method.
        """
        index, key = (INDEX_BY_STATUS, status) if status else (INDEX_BY_DATASET, dataset) if dataset else (INDEX_ALL, RUN_KIND)
        filtered = bool(status and dataset)
        query = [index, key, since, dataset if filtered else None]
        names = {"#k": _INDEX_KEYS[index]}
        values: dict[str, Any] = {":k": {"S": key}}
        condition = "#k = :k"
        if since:
            condition += " AND #t >= :since"
            names["#t"] = "started_at"
            values[":since"] = {"S": since}
        args: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
        }
        if filtered:
            names["#d"] = "dataset"
            values[":d"] = {"S": dataset}
            args["FilterExpression"] = "#d = :d"
        args["ExpressionAttributeNames"], args["ExpressionAttributeValues"] = names, values
        start_key = _decode_token(next_token, query) if next_token else None
        items: list[dict[str, Any]] = []
        for _ in range(_MAX_QUERIES):
            if start_key:
                args["ExclusiveStartKey"] = start_key
            # DynamoDB applies Limit before the filter: a filtered query reads whole pages.
            page = self._query(args, _QUERY_PAGE if filtered else limit - len(items))
            room = limit - len(items)
            if len(page["Items"]) > room:  # a filtered page held more than fits: resume after the last one kept
                items.extend(page["Items"][:room])
                start_key = {name: items[-1][name] for name in ("run_id", "started_at", _INDEX_KEYS[index])}
                break
            items.extend(page["Items"])
            start_key = page.get("LastEvaluatedKey")
            if not start_key or len(items) == limit:
                break
        runs = [_plain({k: _DESERIALIZER.deserialize(v) for k, v in item.items()}) for item in items]
        return RunPage(runs, _encode_token(query, start_key) if start_key else None)

    def _query(self, args: dict[str, Any], limit: int) -> dict[str, Any]:
        try:
            with transient_aws_errors(f"query {args['IndexName']}"):
                return self._ddb.query(**args, Limit=limit)
        except ClientError as error:
            if "ExclusiveStartKey" in args and error.response.get("Error", {}).get("Code") == "ValidationException":
                raise InvalidPageTokenError("next_token is not one this API returned") from error
            raise

    def update(
        self, run_id: str, fields: dict[str, Any], *, owner: str | None = None, unless_status: tuple[str, ...] = (),
        if_status: str | None = None, remove: tuple[str, ...] = (),
    ) -> bool:
        """Set ``fields`` on a run; return ``False`` when the condition refused it.

        Parameters
        ----------
        owner
            Only update when the run belongs to this execution (or does not exist yet).
        unless_status
            Leave the run alone when its status is one of these.
        if_status
            Only update an existing run whose status is this.
        remove
            Attributes to delete.
        """
        fields = {**fields, "updated_at": utc_now()}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _SERIALIZER.serialize(_dynamo_value(v)) for i, v in enumerate(fields.values())}
        conditions = []
        if owner is not None:
            values[":owner"] = {"S": owner}
            conditions.append("(attribute_not_exists(run_id) OR execution_arn = :owner)")
        if unless_status:
            names["#status"] = "status"
            blocked = []
            for i, status in enumerate(unless_status):
                values[f":blocked{i}"] = {"S": status}
                blocked.append(f":blocked{i}")
            conditions.append(f"(attribute_not_exists(#status) OR NOT #status IN ({', '.join(blocked)}))")
        if if_status is not None:
            names["#status"] = "status"
            values[":required"] = {"S": if_status}
            conditions.append("#status = :required")
        removed = {f"#r{i}": name for i, name in enumerate(remove)}
        names.update(removed)
        args: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"run_id": {"S": run_id}},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
            + (" REMOVE " + ", ".join(removed) if removed else ""),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if conditions:
            args["ConditionExpression"] = " AND ".join(conditions)
        try:
            with transient_aws_errors(f"update run {run_id}"):
                self._ddb.update_item(**args)
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value
