"""The Arrow (and so Parquet) schema of a dataset's processed output.

Derived from the dataset's JSON Schema and transform spec, so the columns are
written down once; the Glue tables are derived from the same function.

A property's column follows from the JSON types its subschema admits
(:func:`json_types`), null aside:

=========================================  ==========================================
admitted types                             column
=========================================  ==========================================
string, with ``format: date-time``         ``timestamp[us, UTC]``
string, with ``format: date``              ``date32``
string                                     ``string``
integer                                    ``int64``
number, or integer and number              ``float64``
boolean                                    ``bool``
array, ``items`` stored natively, no       ``list<items' column>`` (items' formats are
``prefixItems``                            not converted: date-times stay strings)
anything else: several types, objects,     ``string`` holding the value's JSON text
no ``type``/``enum``/``const``, ``true``,
``false``, arrays of other items
=========================================  ==========================================

A column is nullable unless its property is required and admits no ``null``
(a required ``"type": ["string", "null"]`` date-time holds nulls).

So every value a property's schema admits has a column that holds it, except
numbers no 64-bit column can hold and date-times outside years 1 to 9999 in
UTC, which validation quarantines (rule ``storage``).
"""
from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from chalicelib.datasets.timestamps import parse_rfc3339

if TYPE_CHECKING:
    from chalicelib.datasets.registry import Dataset

DERIVED_TYPES: dict[str, pa.DataType] = {
    "category": pa.string(),
    "flag": pa.bool_(),
    "outside_range": pa.bool_(),
    "date": pa.date32(),
}
TIMESTAMP = pa.timestamp("us", tz="UTC")
RECORD_ID = pa.field("record_id", pa.string(), nullable=False)  # hex SHA-256 of the record's RFC 8785 text
ENRICHMENT = [
    RECORD_ID,
    pa.field("processed_at", TIMESTAMP, nullable=False),
    pa.field("source_bucket", pa.string(), nullable=False),
    pa.field("source_key", pa.string(), nullable=False),
    pa.field("source_version", pa.string()),
    pa.field("run_id", pa.string(), nullable=False),
]
# Staged beside the properties of each valid record (chalicelib/validate/judge.py).
POSITION = [pa.field("record_number", pa.int64(), nullable=False), pa.field("line", pa.int64()),
            pa.field("record", pa.string(), nullable=False)]
# The hive partition keys of processed/ (chalicelib/transform/partitions.py), also the Glue tables' partition keys.
PARTITION_KEYS = ("year", "month", "day", "hour")
JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
_PY_TO_JSON = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
               type(None): "null"}
_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


def json_types(subschema: Any) -> list[str]:
    """The JSON types a value valid against ``subschema`` may have, in schema order.

    Read from ``type``, else from the members of ``const`` or ``enum``, else every
    type (``true`` admits every type, ``false`` none).  Other keywords (``$ref``,
    ``allOf``, ...) may narrow the set further; they are not followed, so the
    result is a superset of what validation lets through.
    """
    if isinstance(subschema, bool):
        return list(JSON_TYPES) if subschema else []
    declared = subschema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return list(declared)
    if "const" in subschema:
        members = [subschema["const"]]
    elif "enum" in subschema:
        members = subschema["enum"]
    else:
        return list(JSON_TYPES)
    return list(dict.fromkeys(_PY_TO_JSON[type(member)] for member in members))


def arrow_type(subschema: Any) -> pa.DataType:
    """The storage column type of a property (nullable types map to their non-null type)."""
    native = _native_type(subschema, formats=True)
    return pa.string() if native is None else native


def is_json_text(subschema: Any) -> bool:
    """Whether a property's values are stored as their JSON text rather than natively."""
    return _native_type(subschema, formats=True) is None


def _native_type(subschema: Any, *, formats: bool) -> pa.DataType | None:
    """The column that holds every value ``subschema`` admits as itself, or ``None`` (JSON text)."""
    types = [t for t in json_types(subschema) if t != "null"]
    # A single non-null type means ``subschema`` is an object (true admits every type).
    if types == ["string"] and formats and subschema.get("format") == "date-time":
        return TIMESTAMP
    if types == ["string"] and formats and subschema.get("format") == "date":
        return pa.date32()
    if types == ["array"]:
        if "prefixItems" in subschema or "items" not in subschema:
            return None  # items of different or unconstrained types
        items = _native_type(subschema["items"], formats=False)
        return None if items is None else pa.list_(items)
    if len(types) == 1 and types[0] in _SCALARS:
        return _SCALARS[types[0]]
    if set(types) == {"integer", "number"}:
        return pa.float64()
    return None


def storable_value(field: pa.Field, json_text: bool, value: Any) -> Any:
    """The Python value pyarrow stores in ``field`` for a schema-valid JSON ``value``.

    Parameters
    ----------
    json_text
        Whether the field holds JSON text (:func:`is_json_text` of its property).

    Raises
    ------
    ValueError
        When a date-time falls outside what a UTC timestamp column holds.
    """
    if value is None:
        return None
    if json_text:
        return json.dumps(value, ensure_ascii=False)
    if field.type == TIMESTAMP:
        return parse_rfc3339(value)
    if field.type == pa.date32():
        return date.fromisoformat(value)
    return value


def python_column(field: pa.Field, json_text: bool, records: list[dict[str, Any]]) -> pa.Array:
    """``field``'s column for schema-valid records parsed one by one."""
    return pa.array([storable_value(field, json_text, record.get(field.name)) for record in records], field.type)


def admits_null(subschema: Any, required: bool) -> bool:
    """Whether a property's column may hold nulls: the member may be absent, or its schema admits ``null``."""
    return not required or "null" in json_types(subschema)


def source_fields(dataset: Dataset) -> list[pa.Field]:
    """One column per property, in schema order, nullable where a valid record may lack a value for it."""
    required = set(dataset.schema.get("required", []))
    return [pa.field(name, arrow_type(prop), nullable=admits_null(prop, name in required))
            for name, prop in dataset.properties.items()]


def valid_schema(dataset: Dataset) -> pa.Schema:
    """Valid records as validate hands them to transform: each source field in its column, and the record id."""
    return pa.schema([*source_fields(dataset), RECORD_ID])


def output_schema(dataset: Dataset) -> pa.Schema:
    """Source properties in schema order, then derived fields, then enrichment."""
    derived = [pa.field(d["name"], DERIVED_TYPES[d["kind"]]) for d in dataset.derived]
    return pa.schema(source_fields(dataset) + derived + ENRICHMENT)
