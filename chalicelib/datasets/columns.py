"""The Arrow (and so Parquet) schema of a dataset's processed output.

Derived from the dataset's JSON Schema and transform spec, so the columns are
written down once; the Glue tables are derived from the same function.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any

import pyarrow as pa

from chalicelib.datasets.registry import Dataset
from chalicelib.datasets.timestamps import parse_rfc3339

DERIVED_TYPES: dict[str, pa.DataType] = {
    "category": pa.string(),
    "flag": pa.bool_(),
    "outside_range": pa.bool_(),
    "date": pa.date32(),
}
TIMESTAMP = pa.timestamp("us", tz="UTC")
ENRICHMENT = [
    pa.field("record_id", pa.string(), nullable=False),
    pa.field("processed_at", TIMESTAMP, nullable=False),
    pa.field("source_bucket", pa.string(), nullable=False),
    pa.field("source_key", pa.string(), nullable=False),
    pa.field("source_version", pa.string()),
    pa.field("run_id", pa.string(), nullable=False),
]
_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


def arrow_type(prop: dict[str, Any], json_types: list[str]) -> pa.DataType:
    """Arrow type for one JSON Schema property (nullable types map to their non-null type)."""
    types = [t for t in json_types if t != "null"]
    if types == ["string"] and prop.get("format") == "date-time":
        return TIMESTAMP
    if types == ["string"] and prop.get("format") == "date":
        return pa.date32()
    if types == ["array"]:
        items = prop.get("items", {})
        item_types = items.get("type", "string")
        return pa.list_(arrow_type(items, item_types if isinstance(item_types, list) else [item_types]))
    if len(types) == 1 and types[0] in _SCALARS:
        return _SCALARS[types[0]]
    if set(types) == {"integer", "number"}:
        return pa.float64()
    return pa.string()  # objects and mixed types travel as JSON text


def is_json_text(data_type: pa.DataType, json_types: list[str]) -> bool:
    """Whether a property's values are stored as JSON text rather than natively."""
    return data_type == pa.string() and [t for t in json_types if t != "null"] != ["string"]


def storable_value(field: pa.Field, json_types: list[str], value: Any) -> Any:
    """The Python value pyarrow stores in ``field`` for a schema-valid JSON ``value``.

    Raises
    ------
    ValueError
        When a date-time falls outside what a UTC timestamp column holds.
    """
    if value is None:
        return None
    if field.type == TIMESTAMP:
        return parse_rfc3339(value)
    if field.type == pa.date32():
        return date.fromisoformat(value)
    if is_json_text(field.type, json_types):
        return json.dumps(value, ensure_ascii=False)
    return value


def python_column(field: pa.Field, json_types: list[str], records: list[dict[str, Any]]) -> pa.Array:
    """``field``'s column for schema-valid records parsed one by one."""
    return pa.array([storable_value(field, json_types, record.get(field.name)) for record in records], field.type)


def source_fields(dataset: Dataset) -> list[pa.Field]:
    required = set(dataset.schema.get("required", []))
    return [
        pa.field(name, arrow_type(prop, dataset.field_types[name]), nullable=name not in required)
        for name, prop in dataset.properties.items()
    ]


def output_schema(dataset: Dataset) -> pa.Schema:
    """Source properties in schema order, then derived fields, then enrichment."""
    derived = [pa.field(d["name"], DERIVED_TYPES[d["kind"]]) for d in dataset.derived]
    return pa.schema(source_fields(dataset) + derived + ENRICHMENT)
