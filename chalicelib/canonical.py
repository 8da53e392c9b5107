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
_SPECIAL = r'["\\\x00-\x1f]'  # what JSON escapes in a string
_ABSENT = pa.scalar(None, pa.string())


def canonical_text(columns: dict[str, pa.Array], escapable: pa.BooleanArray | None = None) -> tuple[pa.Array, pa.BooleanArray]:
    """Canonical JSON of each row, taken as an object of its non-null values.

    Parameters
    ----------
    columns
        One array per member name, all of the same length; a null is an absent member.
    escapable
        Where a row's strings may hold a character JSON escapes (``"``, ``\\`` or a
        control character); ``None`` when any row may.  Strings parsed from a line
        of JSON without a backslash hold none, and looking for them is costly.

    Returns
    -------
    text, exact
        The canonical text of every row, and where it equals what ``rfc8785`` makes
        of the same record; rows where ``exact`` is false must be serialized there.
    """
    if escapable is not None:
        escapable = pc.fill_null(escapable, True)  # no hint for a row: it may need escapes
    names = sorted(columns, key=lambda n: n.encode("utf-16-be"))  # RFC 8785: by UTF-16 code units
    length = len(columns[names[0]])
    pieces: list[pa.Array | str] = []
    exact = pa.array([True] * length, pa.bool_())
    for name in names:
        values = columns[name]
        member, value_exact = _member("," + rfc8785.dumps(name).decode() + ":", values, escapable)
        if values.null_count:  # every piece of an absent member is null, so the join skips it whole
            present = pc.is_valid(values)
            member = [pc.if_else(present, piece, _ABSENT) if isinstance(piece, str) else piece for piece in member]
        pieces += member
        if value_exact is not None:
            exact = pc.and_(exact, pc.fill_null(value_exact, True))
    # One join over all pieces: a join costs about as much for twenty inputs as for two.
    # The closing brace also keeps every row non-null, which pyarrow 20's
    # binary_join_element_wise needs (it drops rows whose inputs are all null).
    if not columns[names[0]].null_count:  # the first member opens every row's object
        pieces[0] = "{" + pieces[0][1:]
        return pc.binary_join_element_wise(*pieces, "}", "", null_handling="skip"), exact
    body = pc.binary_join_element_wise(*pieces, "}", "", null_handling="skip")  # ",a,b}"
    text = pc.binary_replace_slice(body, 0, 1, "{")
    if all(values.null_count for values in columns.values()):
        empty = pc.equal(body, "}")  # no member present
        text = pc.if_else(empty, "{}", text)
    return text, exact


def _member(prefix: str, values: pa.Array, escapable: pa.BooleanArray | None) -> tuple[list[pa.Array | str], pa.Array | None]:
    """The pieces of one member's text, and where they are exact (``None``: everywhere)."""
    kind = values.type
    if pa.types.is_string(kind):
        return _string_member(prefix, values, escapable)
    if pa.types.is_integer(kind):
        safe = pc.and_(pc.less_equal(values, MAX_SAFE_INTEGER), pc.greater_equal(values, -MAX_SAFE_INTEGER))
        return [prefix, pc.cast(values, pa.string())], safe
    if pa.types.is_floating(kind):
        text = pc.cast(values, pa.string())
        # ECMAScript prints negative zero as 0; Arrow's exponent form differs from ECMAScript's.
        text = pc.if_else(pc.equal(values, 0), "0", text)
        return [prefix, text], pc.and_(pc.is_finite(values), pc.invert(pc.match_substring(text, "e")))
    if pa.types.is_boolean(kind):
        return [prefix, pc.if_else(values, "true", "false")], None
    raise TypeError(f"no canonical text for Arrow type {kind}")


def _string_member(prefix: str, values: pa.Array, escapable: pa.BooleanArray | None) -> tuple[list[pa.Array | str], pa.Array | None]:
    candidates = values if escapable is None else values.filter(escapable)
    if not pc.any(pc.match_substring_regex(candidates, _SPECIAL)).as_py():
        return [prefix + '"', values, '"'], None
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    control = pc.match_substring_regex(candidates, _CONTROL)
    if not pc.any(control).as_py():
        return [prefix + '"', escaped, '"'], None
    if escapable is not None:
        control = pc.replace_with_mask(pa.array([False] * len(values), pa.bool_()), escapable, control)
    return [prefix + '"', escaped, '"'], pc.invert(control)
