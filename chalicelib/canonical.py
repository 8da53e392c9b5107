"""RFC 8785 (JSON Canonicalization Scheme) text of flat records held in Arrow columns.

The record id is the SHA-256 of a record's RFC 8785 text, and ``rfc8785`` is the
reference.  Serializing a million records through it costs seconds; building
the same text with Arrow string kernels costs a fraction of that.  This module
builds it for records whose values are strings, integers, numbers and booleans
and reports, row by row, where it cannot vouch for the text (control characters
to escape, integers beyond I-JSON's range, numbers Arrow prints in exponent
form, non-finite numbers); callers serialize those rows with ``rfc8785``.  A
differential test holds the two equal.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON (RFC 7493): integers beyond this are not interoperable
_CONTROL = r"[\x00-\x1f]"


def canonical_text(columns: dict[str, pa.Array]) -> tuple[pa.Array, pa.BooleanArray]:
    """Canonical JSON of each row, taken as an object of its non-null values.

    Parameters
    ----------
    columns
        One array per member name, all of the same length; a null is an absent member.

    Returns
    -------
    text, exact
        The canonical text of every row, and where it equals what ``rfc8785`` makes
        of the same record; rows where ``exact`` is false must be serialized there.
    """
    length = len(next(iter(columns.values())))
    exact = pa.array([True] * length, pa.bool_())
    members = []
    # RFC 8785 orders members by the UTF-16 code units of their names.
    for name in sorted(columns, key=lambda n: n.encode("utf-16-be")):
        value, value_exact = _value_text(columns[name])
        members.append(pc.binary_join_element_wise(rfc8785.dumps(name).decode() + ":", value, ""))
        exact = pc.and_(exact, pc.fill_null(value_exact, True))
    # A leading empty member: pyarrow 20 drops rows whose inputs are all null from
    # binary_join_element_wise's output; the separator it adds is sliced off.
    body = pc.binary_join_element_wise(pa.array([""] * length, pa.string()), *members, ",", null_handling="skip")
    return pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 1), "}", ""), exact


def _value_text(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    kind = values.type
    if pa.types.is_string(kind):
        escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
        return pc.binary_join_element_wise('"', escaped, '"', ""), pc.invert(pc.match_substring_regex(values, _CONTROL))
    if pa.types.is_integer(kind):
        safe = pc.and_(pc.less_equal(values, MAX_SAFE_INTEGER), pc.greater_equal(values, -MAX_SAFE_INTEGER))
        return pc.cast(values, pa.string()), safe
    if pa.types.is_floating(kind):
        text = pc.cast(values, pa.string())
        # ECMAScript prints negative zero as 0; Arrow's exponent form differs from ECMAScript's.
        text = pc.if_else(pc.equal(values, 0), "0", text)
        return text, pc.and_(pc.is_finite(values), pc.invert(pc.match_substring(text, "e")))
    if pa.types.is_boolean(kind):
        return pc.if_else(values, "true", "false"), pa.array([True] * len(values), pa.bool_())
    raise TypeError(f"no canonical text for Arrow type {kind}")
