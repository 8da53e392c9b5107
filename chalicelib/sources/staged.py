"""The staged form of ingested records: what validate reads.

Every record carries its position, its RFC 8785 text (or, when it could not be
parsed, its source text and why), and, when its values fit the dataset's typed
columns, those values (``values``), so validation and transforms work on
columns instead of re-parsing JSON row by row.  The columnar JSON Lines reader
fills them from Arrow's parser; records parsed one by one (CSV, JSON arrays,
lines the columnar reader routes aside) get them here.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import rfc8785

from chalicelib.canonical import MAX_SAFE_INTEGER, canonical_text
from chalicelib.datasets import Dataset
from chalicelib.sources.formats import ParsedRecord

BATCH_ROWS = 10_000
_PARSE_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


def parse_types(dataset: Dataset) -> dict[str, pa.DataType]:
    """The Arrow type each property is parsed as, or ``{}`` when the columnar reader cannot parse the dataset.

    A property qualifies when it admits exactly one scalar JSON type (and maybe
    null): its values then parse into one typed column.
    """
    types = {}
    for name, json_types in dataset.field_types.items():
        kinds = [t for t in json_types if t != "null"]
        if len(kinds) != 1 or kinds[0] not in _PARSE_TYPES:
            return {}
        types[name] = _PARSE_TYPES[kinds[0]]
    return types


def ingested_schema(types: dict[str, pa.DataType]) -> pa.Schema:
    return pa.schema(
        [
            pa.field("record_number", pa.int64(), nullable=False),
            pa.field("line", pa.int64()),
            pa.field("record", pa.string()),  # RFC 8785 canonical JSON of the parsed record
            pa.field("raw", pa.string()),  # source text of a record that could not be parsed
            pa.field("error", pa.string()),  # why it could not be parsed
            pa.field("values", pa.struct([pa.field(n, t) for n, t in types.items()])),  # set by the columnar reader
        ]
    )


def parsed_batch(records: list[ParsedRecord], schema: pa.Schema) -> pa.RecordBatch:
    """Staged rows for records parsed one by one; ``values`` set where a record's values fit the typed columns."""
    values = _typed_values(records, schema.field("values").type)
    vouched: list[str | None] = [None] * len(records)
    if values.null_count < len(values):
        text, exact = canonical_text(dict(zip(values.type.names, values.flatten())))
        built = pc.and_(values.is_valid(), exact)
        vouched = pc.if_else(built, text, None).to_pylist()
        # Typed only where Arrow built the text, as the columnar reader: elsewhere rfc8785 prints numbers its own
        # way (4.9e16 as 49424287642702410), which the typed value would not read back as.
        values = pc.if_else(built, values, pa.scalar(None, values.type))
    columns: dict[str, list[Any]] = {name: [] for name in ("record_number", "line", "record", "raw", "error")}
    for record, canonical_record in zip(records, vouched):
        canonical, raw, error = (canonical_record, None, None) if canonical_record is not None else _canonical(record)
        columns["record_number"].append(record.record_number)
        columns["line"].append(record.line)
        columns["record"].append(canonical)
        columns["raw"].append(raw)
        columns["error"].append(error)
    arrays = [pa.array(columns[field.name], field.type) for field in schema if field.name != "values"]
    return pa.RecordBatch.from_arrays(arrays + [values], schema=schema)


def _typed_values(records: list[ParsedRecord], values_type: pa.StructType) -> pa.StructArray:
    """Each record's values as a row of ``values_type``, where they fit it; null elsewhere.

    A record fits when it is an object whose members are all columns and whose
    values are all of their column's type, neither null (a null member and an
    absent one would look alike) nor beyond what its column and RFC 8785 hold
    exactly: what the columnar JSON Lines reader vouches for.
    """
    if not values_type.num_fields:  # the dataset's records do not fit typed columns
        return pa.nulls(len(records), values_type)
    fits = {field.name: _FITS[field.type] for field in values_type}
    rows = [record.value if record.error is None and _fitting(record.value, fits) else None for record in records]
    try:
        return pa.array(rows, values_type)
    except (pa.ArrowException, UnicodeEncodeError):  # e.g. a lone surrogate in a string: the rows go the slow way
        return pa.nulls(len(records), values_type)


def _fitting(value: Any, fits: dict[str, Callable[[Any], bool]]) -> bool:
    if type(value) is not dict:
        return False
    for name, member in value.items():
        fit = fits.get(name)
        if fit is None or not fit(member):
            return False
    return True


def _safe_integer(value: Any) -> bool:
    return type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


_FITS: dict[pa.DataType, Callable[[Any], bool]] = {
    pa.string(): lambda value: type(value) is str,
    pa.int64(): _safe_integer,
    pa.float64(): lambda value: (type(value) is float and math.isfinite(value)) or _safe_integer(value),
    pa.bool_(): lambda value: type(value) is bool,
}


def parsed_batches(records: Iterable[ParsedRecord], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """:func:`parsed_batch` over a stream of records, ``BATCH_ROWS`` at a time."""
    pending: list[ParsedRecord] = []
    for record in records:
        pending.append(record)
        if len(pending) >= BATCH_ROWS:
            yield parsed_batch(pending, schema)
            pending = []
    if pending:
        yield parsed_batch(pending, schema)


def _canonical(record: ParsedRecord) -> tuple[str | None, str | None, str | None]:
    """Serialize a parsed record with RFC 8785; values outside I-JSON cannot be."""
    if record.error is not None:
        return None, record.raw, record.error
    try:
        return rfc8785.dumps(record.value).decode("utf-8"), None, None
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as error:
        # A lone surrogate cannot be stored as UTF-8; its JSON escape can.
        raw = json.dumps(record.value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")
        return None, raw, f"not representable in I-JSON (RFC 7493): {error}"
