"""The DynamoDB run table: one item per run, keyed by ``run_id``.

What a run holds is :mod:`chalicelib.run_record`'s; this module stores it.
Runs are listed newest first through three indexes sorted by ``started_at``:
all runs (every item carries the constant ``kind = "run"``), by status and by
dataset.  The table definition below is the one the local runtime and the
deployment templates create.  Writers use the named transitions of
:class:`RunStore`; the state machine's own ``updateItem`` tasks write the
rest (see ``statemachines/etl.asl.json``).
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib import run_record as r
from chalicelib.errors import transient_aws_errors
from chalicelib.payloads import RunRef
from chalicelib.run_record import RunItem
from chalicelib.times import utc_now, utc_timestamp

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


INDEX_ALL = "runs_by_time"
INDEX_BY_STATUS = "runs_by_status"
INDEX_BY_DATASET = "runs_by_dataset"
_INDEX_KEYS = {INDEX_ALL: r.KIND, INDEX_BY_STATUS: r.STATUS, INDEX_BY_DATASET: r.DATASET}
_QUERY_PAGE = 100  # items read per query when a filter drops some
_MAX_QUERIES = 10  # bounds one request's reads; a short page with a next_token may follow


def table_definition(name: str) -> dict[str, Any]:
    """``CreateTable`` arguments of the run table (on-demand, indexes for listing)."""
    attributes = {r.RUN_ID, r.STARTED_AT, *_INDEX_KEYS.values()}
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": r.RUN_ID, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": key, "KeyType": "HASH"},
                    {"AttributeName": r.STARTED_AT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in _INDEX_KEYS.items()
        ],
    }


class InvalidPageTokenError(ValueError):
    """A ``next_token`` that this table did not hand out."""


@dataclass(frozen=True)
class RunPage:
    """One page of runs, newest first; ``next_token`` is ``None`` on the last page."""

    runs: list[RunItem]
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


def _item(attributes: dict[str, Any]) -> RunItem:
    item: RunItem = _plain({k: _DESERIALIZER.deserialize(v) for k, v in attributes.items()})
    return item


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):  # a number set: sorted, as a list
        return sorted(_plain(v) for v in value)
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

    def get(self, run_id: str) -> RunItem | None:
        with transient_aws_errors(f"get run {run_id}"):
            item = self._ddb.get_item(TableName=self._table, Key={r.RUN_ID: {"S": run_id}}, ConsistentRead=True).get("Item")
        return None if item is None else _item(item)

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
        index, key = (INDEX_BY_STATUS, status) if status else (INDEX_BY_DATASET, dataset) if dataset else (INDEX_ALL, r.RUN_KIND)
        filtered = bool(status and dataset)
        query = [index, key, since, dataset if filtered else None]
        names = {"#k": _INDEX_KEYS[index]}
        values: dict[str, Any] = {":k": {"S": key}}
        condition = "#k = :k"
        if since:
            condition += " AND #t >= :since"
            names["#t"] = r.STARTED_AT
            values[":since"] = {"S": since}
        args: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
        }
        if filtered:
            names["#d"] = r.DATASET
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
                start_key = {name: items[-1][name] for name in (r.RUN_ID, r.STARTED_AT, _INDEX_KEYS[index])}
                break
            items.extend(page["Items"])
            start_key = page.get("LastEvaluatedKey")
            if not start_key or len(items) == limit:
                break
        runs = [_item(item) for item in items]
        return RunPage(runs, _encode_token(query, start_key) if start_key else None)

    def _query(self, args: dict[str, Any], limit: int) -> dict[str, Any]:
        try:
            with transient_aws_errors(f"query {args['IndexName']}"):
                return self._ddb.query(**args, Limit=limit)
        except ClientError as error:
            if "ExclusiveStartKey" in args and error.response.get("Error", {}).get("Code") == "ValidationException":
                raise InvalidPageTokenError("next_token is not one this API returned") from error
            raise

    # --- transitions: each names what happens to a run and the condition that guards it ---------------

    def claim(self, run: RunRef, *, replay_of: str | None = None) -> bool:
        """Record a new run; return ``False`` when another execution already owns it.

        The conditional write is what makes one object version never produce two
        runs: a duplicate S3 event starts a second execution, which finds the item
        owned by the first.  The owning execution may claim again (a retried or
        redriven ingest): an update, so what the run gathered (its redrive count)
        survives.
        """
        source = run["source"]
        return self._update(run["run_id"], {
            r.STATUS: r.RUNNING,
            r.DATASET: run["dataset"],
            r.EXECUTION_ARN: run["execution_id"],
            r.SOURCE_BUCKET: source["bucket"],
            r.SOURCE_KEY: source["key"],
            r.SOURCE_VERSION: source["version"],
            r.SOURCE_ETAG: source["etag"],
            r.SOURCE_SIZE: source["size"],
            r.REPLAY_OF: replay_of,
            **_listed(run["started_at"]),
        }, owner=run["execution_id"])

    def record_plan(self, run: RunRef, *, chunks: int) -> bool:
        """How many chunks the run's source was cut into (only by the run's own execution)."""
        return self._update(run["run_id"], {r.CHUNKS: chunks}, owner=run["execution_id"])

    def record_chunk(self, run: RunRef, *, index: int, records: int, valid: int, invalid: int) -> bool:
        """Add one validated chunk's counts to the run's, once per chunk (a retried or redriven chunk is not counted
        again), so a run in progress (or failed in its Map) shows how far it got; the verdict sets the totals."""
        return self._update(run["run_id"], {}, owner=run["execution_id"], add={
            r.RECORDS_IN: records, r.RECORDS_VALID: valid, r.RECORDS_INVALID: invalid}, add_once=(r.CHUNKS_VALIDATED, index))

    def record_validation(
        self, run: RunRef, *, records_in: int, records_valid: int, records_invalid: int, quarantine: str | None,
        quality: Mapping[str, Any] | None = None,
    ) -> bool:
        """The validated counts, where the invalid records went and their quality (only by the run's own execution)."""
        return self._update(run["run_id"], {
            r.RECORDS_IN: records_in,
            r.RECORDS_VALID: records_valid,
            r.RECORDS_INVALID: records_invalid,
            r.QUARANTINE: quarantine,
            r.QUALITY: quality,
        }, owner=run["execution_id"], remove=() if quarantine else (r.QUARANTINE,))

    def mark_failed(
        self, run_id: str, *, execution_arn: str, started_at: str, failed_state: str | None, error: str, cause: str,
        dataset: str | None = None, source: dict[str, str | None] | None = None,
    ) -> bool:
        """Status FAILED with the state, error and cause; ``False`` when another execution owns the run.

        A run that failed before ingest recorded it gets what is known of it
        (dataset, source, start), so it is listed like any other.
        """
        known: dict[str, Any] = {r.DATASET: dataset}
        if source is not None:
            known.update({r.SOURCE_BUCKET: source.get("bucket"), r.SOURCE_KEY: source.get("key"),
                          r.SOURCE_VERSION: source.get("version")})
        return self._update(run_id, {
            **{name: value for name, value in known.items() if value is not None},
            r.STATUS: r.FAILED,
            r.FAILED_STATE: failed_state,
            r.ERROR: error,
            r.CAUSE: cause[: r.MAX_CAUSE_CHARS],
            r.FINISHED_AT: utc_now(),
            r.EXECUTION_ARN: execution_arn,
            **_listed(started_at),
        }, owner=execution_arn, remove=() if failed_state else (r.FAILED_STATE,), keep_existing=tuple(known),
            # what the state machine recorded stands: after it, only a notification can fail
            unless_status=r.OUTCOME_STATUSES)

    def mark_ended(self, run_id: str, *, execution_arn: str, status: str, reason: str | None = None) -> bool:
        """A run still RUNNING or WRITING whose execution succeeded since: the status it ended with."""
        return self._update(run_id, {r.STATUS: status, r.REASON: reason, r.FINISHED_AT: utc_now()}, owner=execution_arn,
                            unless_status=r.TERMINAL_STATUSES)

    def mark_superseded(self, run_id: str, *, reason: str) -> bool:
        """A SUCCEEDED run whose files a newer version of its key replaced."""
        return self._update(run_id, {r.STATUS: r.SUPERSEDED, r.REASON: reason}, if_status=r.SUCCEEDED)

    def begin_redrive(self, item: RunItem) -> bool:
        """FAILED -> RUNNING, one more redrive, the failure cleared; ``False`` when the run is no longer FAILED."""
        return self._update(item[r.RUN_ID], {
            r.STATUS: r.RUNNING,
            r.REDRIVE_COUNT: int(item.get(r.REDRIVE_COUNT) or 0) + 1,
            r.REDRIVEN_AT: utc_now(),
        }, if_status=r.REDRIVABLE_STATUS, remove=tuple(name for name in r.FAILURE_ATTRIBUTES if name in item))

    def undo_redrive(self, item: RunItem) -> bool:
        """Back to the FAILED run ``item`` was before :meth:`begin_redrive` (when the redrive could not start)."""
        failure: dict[str, Any] = {name: item[name] for name in r.FAILURE_ATTRIBUTES if name in item}
        return self._update(item[r.RUN_ID], {
            r.STATUS: r.REDRIVABLE_STATUS,
            r.REDRIVE_COUNT: int(item.get(r.REDRIVE_COUNT) or 0),
            **failure,
        }, if_status=r.RUNNING, remove=() if r.REDRIVEN_AT in item else (r.REDRIVEN_AT,))

    def _update(
        self, run_id: str, fields: dict[str, Any], *, owner: str | None = None, if_status: str | None = None,
        unless_status: tuple[str, ...] = (), remove: tuple[str, ...] = (), keep_existing: tuple[str, ...] = (),
        add: dict[str, int] | None = None, add_once: tuple[str, int] | None = None,
    ) -> bool:
        """Set ``fields`` (``None`` values are skipped); ``False`` when the condition refused it.

        Parameters
        ----------
        owner
            Only when the run belongs to this execution (or does not exist yet).
        if_status
            Only an existing run whose status is this.
        unless_status
            Not a run whose status is one of these.
        remove
            Attributes to delete.
        keep_existing
            Attributes set only where the run has none yet.
        add
            Numbers to add to attributes (``ADD``).
        add_once
            ``(number set, member)``: add the member to the set, and do all of this only if it is not there yet.
        """
        fields = {name: value for name, value in {**fields, r.UPDATED_AT: utc_now()}.items() if value is not None}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _SERIALIZER.serialize(_dynamo_value(v)) for i, v in enumerate(fields.values())}
        assignments = [f"#f{i} = if_not_exists(#f{i}, :v{i})" if name in keep_existing else f"#f{i} = :v{i}"
                       for i, name in enumerate(fields)]
        conditions = []
        if owner is not None:
            names["#owner"] = r.EXECUTION_ARN
            values[":owner"] = {"S": owner}
            conditions.append("(attribute_not_exists(run_id) OR #owner = :owner)")
        if if_status is not None:
            names["#status"] = r.STATUS
            values[":required"] = {"S": if_status}
            conditions.append("#status = :required")
        if unless_status:
            names["#status"] = r.STATUS
            blocked = []
            for i, status in enumerate(unless_status):
                values[f":blocked{i}"] = {"S": status}
                blocked.append(f":blocked{i}")
            conditions.append(f"(attribute_not_exists(#status) OR NOT #status IN ({', '.join(blocked)}))")
        removed = {f"#r{i}": name for i, name in enumerate(remove)}
        names.update(removed)
        additions = []
        for i, (name, amount) in enumerate((add or {}).items()):
            names[f"#a{i}"], values[f":a{i}"] = name, {"N": str(amount)}
            additions.append(f"#a{i} :a{i}")
        if add_once is not None:
            names["#once"], values[":once"], values[":member"] = add_once[0], {"NS": [str(add_once[1])]}, {"N": str(add_once[1])}
            additions.append("#once :once")
            conditions.append("(attribute_not_exists(#once) OR NOT contains(#once, :member))")
        args: dict[str, Any] = {
            "TableName": self._table,
            "Key": {r.RUN_ID: {"S": run_id}},
            "UpdateExpression": "SET " + ", ".join(assignments) + (" REMOVE " + ", ".join(removed) if removed else "")
                                + (" ADD " + ", ".join(additions) if additions else ""),
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


def _listed(started_at: str) -> dict[str, Any]:
    """What every run item carries so the indexes list it and the TTL expires it."""
    return {r.KIND: r.RUN_KIND, r.STARTED_AT: utc_timestamp(started_at), r.TTL_ATTRIBUTE: r.expiry_for(started_at)}


def _dynamo_value(value: Any) -> Any:
    """DynamoDB numbers are Decimals, in maps and lists too."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_value(v) for v in value]
    return value
