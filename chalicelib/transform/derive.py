"""Derived fields, computed on whole Arrow columns with pyarrow.compute.

Each ``kind`` of the transform spec is one function from (spec, table) to a column.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

Derivation = Callable[[dict[str, Any], pa.Table], pa.Array]


def _category(spec: dict[str, Any], table: pa.Table) -> pa.Array:
    """The label of the first bin whose ``below`` bound exceeds the value."""
    values = table[spec["source"]]
    result = pa.scalar(spec["otherwise"])
    for band in reversed(spec["bins"]):
        result = pc.if_else(pc.less(values, band["below"]), band["label"], result)
    return _as_array(result, len(table), pa.string())


def _flag(spec: dict[str, Any], table: pa.Table) -> pa.Array:
    return pc.greater(table[spec["source"]], spec["above"])


def _date(spec: dict[str, Any], table: pa.Table) -> pa.Array:
    """The UTC calendar date of a timestamp column."""
    utc = pc.cast(table[spec["source"]], pa.timestamp("us"))  # drop the zone, keep UTC wall time
    return pc.cast(utc, pa.date32())


def _outside_range(spec: dict[str, Any], table: pa.Table) -> pa.Array:
    """True where the value lies outside its key's ``[low, high]``; keys without a range are never flagged."""
    names = list(spec["ranges"])
    index = pc.index_in(table[spec["key"]], value_set=pa.array(names, pa.string()))
    low = pc.take(pa.array([spec["ranges"][n][0] for n in names], pa.float64()), index)
    high = pc.take(pa.array([spec["ranges"][n][1] for n in names], pa.float64()), index)
    values = pc.cast(table[spec["source"]], pa.float64())
    outside = pc.or_(pc.less(values, low), pc.greater(values, high))
    return pc.fill_null(outside, False)


def _as_array(value: Any, length: int, data_type: pa.DataType) -> pa.Array:
    if isinstance(value, pa.Scalar):
        return pa.array([value.as_py()] * length, data_type)
    return value


DERIVATIONS: dict[str, Derivation] = {
    "category": _category,
    "flag": _flag,
    "date": _date,
    "outside_range": _outside_range,
}


def derive(spec: dict[str, Any], table: pa.Table) -> pa.Array:
    """Compute one derived column of the transform spec over ``table``."""
    return DERIVATIONS[spec["kind"]](spec, table)
