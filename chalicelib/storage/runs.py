"""The DynamoDB run table: one item per run, keyed by ``run_id``."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.errors import transient_aws_errors
from chalicelib.payloads import RunRef

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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

    def start(self, run: RunRef) -> bool:
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
            "started_at": run["started_at"],
            "updated_at": utc_now(),
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

    def update(self, run_id: str, fields: dict[str, Any], *, owner: str | None = None, unless_status: tuple[str, ...] = ()) -> bool:
        """Set ``fields`` on a run; return ``False`` when the condition refused it.

        Parameters
        ----------
        owner
            Only update when the run belongs to this execution (or does not exist yet).
        unless_status
            Leave the run alone when its status is one of these.
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
        args: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"run_id": {"S": run_id}},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
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
