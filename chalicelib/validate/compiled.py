"""A dataset's JSON Schema compiled into checks over Arrow columns.

The compiled checks decide only one thing: which records are *surely valid*.
Each check passes a value only where the reference validator (``jsonschema``
Draft 2020-12 with format assertions) passes it too, for every value of the
column's type, and where the value fits its storage column; everything else,
and every property whose schema uses a keyword not compiled here, goes to the
reference validator, so verdicts and reasons stay exactly the reference's
whatever else the batch holds.  A differential test (hypothesis) holds that,
for generated schemas and records.

Compiled: ``type`` (by the column's type), ``required``, ``additionalProperties``
(rows with unknown members never reach here), ``enum``, ``const``, ``minimum``,
``maximum`` and their exclusive forms, ``multipleOf``, ``minLength``,
``maxLength``, ``pattern`` (see :func:`_re2_matches_only_what_python_matches`),
and the ``date-time`` and ``date`` formats.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from chalicelib.datasets import Dataset
from chalicelib.datasets.columns import TIMESTAMP, source_fields
from chalicelib.datasets.timestamps import iso_date_column, rfc3339_column

Check = Callable[[pa.Array], pa.Array]
ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default", "deprecated", "readOnly",
                         "writeOnly", "$schema", "$id", "$anchor"})
_TOP_LEVEL = ANNOTATIONS | {"type", "properties", "required", "additionalProperties", "$defs"}
_FORMATS = {"date-time", "date"}  # checked by parsing into the storage column
_EXACT = 2**53  # integers and doubles agree exactly below this magnitude
_PUNCTUATION = frozenset(r"""!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~""")  # escaped, each is itself in both engines
_QUANTIFIER = re.compile(r"[*+?]|\{[0-9]+(?:,[0-9]*)?\}")
_SET_OPERATORS = ("&&", "||", "~~", "--")  # Python warns it may read them as set operations inside classes


@dataclass(frozen=True)
class Checked:
    """The outcome of the compiled checks over one batch.

    Attributes
    ----------
    surely_valid
        True where the record is valid and storable; false where the reference must judge.
    columns
        Each source field in its storage type (values where ``surely_valid`` is false are meaningless).
    settled
        Per property, true where the record's value for it (or its absence) is surely valid
        and storable, and the record's other top-level keywords are the compiled ones: the
        reference need not look at that property's subschema there.
    """

    surely_valid: pa.Array
    columns: dict[str, pa.Array]
    settled: dict[str, pa.Array]


class CompiledSchema:
    """Checks for one dataset, compiled once and applied to each batch of parsed values."""

    def __init__(self, dataset: Dataset) -> None:
        schema = dataset.schema
        self._fields = source_fields(dataset)
        self._required = set(schema.get("required", []))
        self._whole = set(schema) <= _TOP_LEVEL and schema.get("type", "object") == "object" \
            and schema.get("additionalProperties", True) in (True, False)
        self._checks = {name: _property_checks(prop) for name, prop in dataset.properties.items()}

    def check(self, values: pa.StructArray) -> Checked:
        """Evaluate the checks over ``values`` (the columnar reader's typed members; null rows were not parsed there)."""
        if not values.type.num_fields:  # a dataset the columnar reader does not parse
            return Checked(surely_valid=_all(values, False), columns={f.name: pa.nulls(len(values), f.type) for f in self._fields},
                           settled={})
        compiled = pc.and_(pc.is_valid(values), pa.array([self._whole] * len(values), pa.bool_()))
        surely_valid = compiled
        columns, settled = {}, {}
        for field in self._fields:
            column = values.field(field.name)
            stored, storable = _storage(column, field.type)
            columns[field.name] = stored
            checks = self._checks[field.name]
            if checks is None:
                passes = pa.array([False] * len(values), pa.bool_())
            else:
                passes = storable
                for check in checks:
                    passes = pc.and_(passes, check(column))
            absent_ok = field.name not in self._required
            passes = pc.if_else(pc.is_valid(column), pc.fill_null(passes, False), absent_ok)
            settled[field.name] = pc.fill_null(pc.and_(compiled, passes), False)
            surely_valid = pc.and_(surely_valid, passes)
        return Checked(surely_valid=pc.fill_null(surely_valid, False), columns=columns, settled=settled)


def _storage(column: pa.Array, storage_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    if storage_type == TIMESTAMP:
        return rfc3339_column(column)
    if storage_type == pa.date32():
        return iso_date_column(column)
    return column.cast(storage_type), pa.array([True] * len(column), pa.bool_())


def _property_checks(prop: Any) -> list[Check] | None:
    """Checks for one property's values, or ``None`` when its schema is not fully compiled."""
    if prop is True:
        return []
    if not isinstance(prop, dict):
        return None
    checks: list[Check] = []
    for keyword, value in prop.items():
        if keyword in ANNOTATIONS or keyword == "type":  # the type is the column's, enforced by the parser
            continue
        check = _keyword_check(keyword, value)
        if check is None:
            return None
        checks.append(check)
    return checks


def _keyword_check(keyword: str, value: Any) -> Check | None:
    if keyword in ("enum", "const"):
        return _member_check(value if keyword == "enum" else [value])
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") and _exact_number(value):
        compare = {"minimum": pc.greater_equal, "maximum": pc.less_equal,
                   "exclusiveMinimum": pc.greater, "exclusiveMaximum": pc.less}[keyword]
        return _numeric(lambda column: compare(column, value))
    if keyword == "multipleOf" and _exact_number(value):
        return _numeric(lambda column: _multiple_of(column, value))
    if keyword in ("minLength", "maxLength"):
        compare = pc.greater_equal if keyword == "minLength" else pc.less_equal
        return _textual(lambda column: compare(pc.utf8_length(column), value))
    if keyword == "pattern" and _re2_matches_only_what_python_matches(value):
        return _textual(lambda column: pc.match_substring_regex(column, value))
    if keyword == "format" and value in _FORMATS:
        return _textual(lambda column: pa.array([True] * len(column), pa.bool_()))  # parsed into storage
    return None


def _numeric(check: Check) -> Check:
    """Numeric keywords pass non-numeric values (the reference ignores them there)."""
    return lambda column: check(column) if _is_number(column.type) else _all(column, True)


def _textual(check: Check) -> Check:
    """String keywords pass non-string values."""
    return lambda column: check(column) if pa.types.is_string(column.type) else _all(column, True)


def _member_check(members: list[Any]) -> Check:
    def check(column: pa.Array) -> pa.Array:
        kind = column.type
        same: list[Any]
        if pa.types.is_string(kind):
            same = [m for m in members if isinstance(m, str)]
        elif pa.types.is_boolean(kind):
            same = [m for m in members if isinstance(m, bool)]
        elif pa.types.is_integer(kind):
            # jsonschema compares numbers by value (1 == 1.0), never equating them with booleans;
            # a fractional member equals no integer (and an int64 array would truncate it).
            same = [int(m) for m in members if _exact_number(m) and float(m).is_integer()]
        else:
            same = [float(m) for m in members if _exact_number(m)]
        return pc.is_in(column, value_set=pa.array(same, kind)) if same else _all(column, False)
    return check


def _multiple_of(column: pa.Array, divisor: int | float) -> pa.Array:
    if pa.types.is_integer(column.type) and isinstance(divisor, int):
        return pc.equal(pc.multiply(pc.divide(column, divisor), divisor), column)
    values = pc.cast(column, pa.float64())
    if isinstance(divisor, float):  # the reference: int(instance / dB) == instance / dB
        quotient = pc.divide(values, divisor)
        return pc.and_(pc.is_finite(quotient), pc.equal(pc.trunc(quotient), quotient))
    # An integer divisor and a double: pass whole numbers whose integer is a multiple.
    whole = pc.and_(pc.equal(pc.trunc(values), values), pc.less(pc.abs(values), _EXACT))
    integers = pc.cast(pc.if_else(whole, values, 0.0), pa.int64())
    return pc.and_(whole, pc.equal(pc.multiply(pc.divide(integers, divisor), divisor), integers))


def _re2_matches_only_what_python_matches(pattern: Any) -> bool:
    """Whether every string RE2 (Arrow) finds ``pattern`` in, Python's ``re.search`` finds it in too.

    The rule: the pattern is made only of literal characters, ``.``, ``|``, groups
    ``(...)`` and ``(?:...)``, the quantifiers ``*``, ``+``, ``?``, ``{n}``, ``{n,}``
    and ``{n,m}`` (each maybe lazy, never stacked), ``^``, a ``$`` that ends the
    pattern, escaped ASCII punctuation, ``\\d`` outside negated classes, and classes
    ``[...]``/``[^...]`` of literal characters, ranges between them and those escapes;
    and both engines compile it.  All of these read the same in both engines but two,
    where RE2 matches a subset: ``\\d`` is ``[0-9]`` in RE2 and any Unicode digit in
    Python, and a final ``$`` also matches before a final newline in Python.  A
    negated class would turn the first into a superset (``[^\\d]`` matches "٣" in
    RE2 only), so it may not hold ``\\d``.  A string RE2 does not match goes to the
    reference; any other pattern is not compiled.
    """
    if not isinstance(pattern, str) or not _plain_syntax(pattern):
        return False
    try:
        re.compile(pattern)
        pc.match_substring_regex(pa.array([""]), pattern)
    except (re.error, pa.ArrowInvalid):
        return False
    return True


def _plain_syntax(pattern: str) -> bool:
    """Whether ``pattern`` uses only the syntax :func:`_re2_matches_only_what_python_matches` allows."""
    position, groups, quantifiable = 0, 0, False
    while position < len(pattern):
        char = pattern[position]
        quantifier = _QUANTIFIER.match(pattern, position)
        if quantifier:
            if not quantifiable:  # nothing to repeat, or a stacked quantifier (Python reads a{2}+ as possessive)
                return False
            position = quantifier.end() + pattern.startswith("?", quantifier.end())
            quantifiable = False
            continue
        if char == "\\":
            if not _plain_escape(pattern[position + 1 : position + 2], negated=False):
                return False
            position += 2
        elif char == "[":
            position = _class_end(pattern, position)
            if position < 0:
                return False
        elif char == "(":
            if pattern.startswith("(?", position) and not pattern.startswith("(?:", position):
                return False  # flags, lookaround, named groups: not compiled
            position += 3 if pattern.startswith("(?:", position) else 1
            groups += 1
            quantifiable = False
            continue
        elif char == ")":
            if not groups:
                return False
            groups -= 1
            position += 1
        elif char in "|^$":
            if char == "$" and position != len(pattern) - 1:
                return False
            position += 1
            quantifiable = False
            continue
        elif char in "]{}":  # literal in both only where not a quantifier or class: left to the reference
            return False
        else:  # a literal character or "."
            position += 1
        quantifiable = True
    return not groups


def _class_end(pattern: str, start: int) -> int:
    """The position after the class opening at ``start``, or -1 when it is not a plain class."""
    position = start + 1 + pattern.startswith("^", start + 1)
    negated, first = position == start + 2, position
    while position < len(pattern):
        char = pattern[position]
        if char == "]" and position > first:
            return position + 1
        if char in "[]" or pattern.startswith(_SET_OPERATORS, position):
            return -1  # a leading "]" is literal in Python only; "[" may open a POSIX class in RE2
        if char == "\\":
            if not _plain_escape(pattern[position + 1 : position + 2], negated=negated):
                return -1
            position += 2
        elif char == "-" and position != first and not pattern.startswith("-]", position):
            return -1  # a range from an escape or after a range
        elif pattern.startswith("-", position + 1) and pattern[position + 2 : position + 3] not in ("", "]", "\\", "-"):
            position += 3  # a range between two literal characters
        else:
            position += 1
    return -1


def _plain_escape(escaped: str, *, negated: bool) -> bool:
    return escaped in _PUNCTUATION or (escaped == "d" and not negated)


def _exact_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < _EXACT


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def _all(column: pa.Array, value: bool) -> pa.Array:
    return pa.array([value] * len(column), pa.bool_())
