"""RFC 3339 date-times to UTC ``datetime`` (microsecond precision, as Parquet stores them)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc

# A superset of what jsonschema's date-time format check accepts (rfc3339-validator:
# upper- or lower-case T and Z, and, through its ``$``, one trailing newline).
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\n?",
    re.ASCII,
)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time into an aware UTC datetime.

    Fractions beyond microseconds are truncated; a leap second (``:60``) maps to
    the last microsecond of its minute.

    Raises
    ------
    ValueError
        When ``text`` is not an RFC 3339 date-time, or its UTC time falls outside
        years 1 to 9999.
    """
    match = _RFC3339.fullmatch(text)
    if not match:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    if second == 60:
        second, micros = 59, 999_999
    offset = UTC
    if match.group(9):
        sign = 1 if match.group(9) == "+" else -1
        offset = timezone(sign * timedelta(hours=int(match.group(10)), minutes=int(match.group(11))))
    try:
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=offset).astimezone(UTC)
    except OverflowError as error:
        raise ValueError(f"{text!r} is outside years 1 to 9999 in UTC") from error


# The common spelling of RFC 3339 (upper-case T and Z, at most microseconds, no
# trailing newline): the columnar path parses it; any other is left to parse_rfc3339.
_COMMON_RFC3339 = (
    r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
)
_COMMON_PARTS = (
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?:Z|(?P<sign>[+-])(?P<offset_hour>\d{2}):(?P<offset_minute>\d{2}))$"
)
_ISO_DATE = r"^(?P<date>\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))$"
_DAYS_IN_MONTH = pa.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())
_MICROS_PER_DAY = 86_400_000_000
UTC_MICROS = pa.timestamp("us", tz="UTC")
_FIRST_MICRO = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
_LAST_MICRO = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


def rfc3339_column(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """UTC timestamps of date-times spelled the common way, and where that holds.

    Returns
    -------
    timestamps, parsed
        ``parsed`` is true where ``text`` matches ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)``
        with a real date and time, within years 1 to 9999 in UTC; there the timestamp
        equals :func:`parse_rfc3339`'s.  Elsewhere it is null, and the value is for
        :func:`parse_rfc3339` (and the reference validator) to judge.
    """
    common = pc.fill_null(pc.match_substring_regex(text, _COMMON_RFC3339), False)
    try:  # Arrow's own parser, when every date in the batch is real and in range
        stamps = pc.cast(pc.if_else(common, text, "1970-01-01T00:00:00Z"), UTC_MICROS)
    except pa.ArrowInvalid:
        stamps = _timestamps_by_parts(pc.if_else(common, text, None))
    micros = pc.cast(stamps, pa.int64())
    in_range = pc.and_(pc.greater_equal(micros, _FIRST_MICRO), pc.less_equal(micros, _LAST_MICRO))
    parsed = pc.fill_null(pc.and_(common, in_range), False)
    return pc.if_else(parsed, stamps, pa.scalar(None, UTC_MICROS)), parsed


def _timestamps_by_parts(text: pa.Array) -> pa.Array:
    """The same timestamps computed from their fields (null where the date is not real), whatever the year."""
    parts = pc.extract_regex(text, _COMMON_PARTS)
    days, real = _days(pc.struct_field(parts, "date"), pc.is_valid(parts))
    hour, minute, second = (_number(parts, name) for name in ("hour", "minute", "second"))
    fraction = pc.utf8_rpad(pc.struct_field(parts, "fraction"), 6, "0")
    offset = pc.multiply(pc.add(pc.multiply(_number(parts, "offset_hour"), 60), _number(parts, "offset_minute")), 60_000_000)
    offset = pc.if_else(pc.equal(pc.struct_field(parts, "sign"), "-"), pc.negate(offset), offset)
    seconds = pc.add(pc.multiply(pc.add(pc.multiply(hour, 60), minute), 60), second)
    micros = pc.add(pc.add(pc.multiply(days, _MICROS_PER_DAY), pc.multiply(seconds, 1_000_000)), pc.cast(fraction, pa.int64()))
    micros = pc.subtract(micros, offset)
    return pc.cast(pc.if_else(real, micros, None), pa.int64()).cast(UTC_MICROS)


def iso_date_column(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Dates of ``YYYY-MM-DD`` text, and where the text is a real date (elsewhere null)."""
    shaped = pc.fill_null(pc.match_substring_regex(text, _ISO_DATE), False)
    days, real = _days(pc.if_else(shaped, text, "1970-01-01"), shaped)
    parsed = pc.fill_null(real, False)
    return pc.cast(pc.if_else(parsed, days, None), pa.int32()).cast(pa.date32()), parsed


def _number(parts: pa.Array, name: str) -> pa.Array:
    """A matched group as an integer; 0 where the group took no part in the match."""
    digits = pc.struct_field(parts, name)
    return pc.cast(pc.if_else(pc.equal(digits, ""), "0", digits), pa.int64())


def _days(date_text: pa.Array, shaped: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Days since 1970-01-01 of ``YYYY-MM-DD`` text where ``shaped``, and whether it is a real date in years 1 to 9999."""
    date_text = pc.if_else(shaped, date_text, "1970-01-01")
    year, month, day = (pc.cast(pc.utf8_slice_codeunits(date_text, a, b), pa.int64()) for a, b in ((0, 4), (5, 7), (8, 10)))
    leap = pc.and_(pc.equal(_remainder(year, 4), 0),
                   pc.or_(pc.not_equal(_remainder(year, 100), 0), pc.equal(_remainder(year, 400), 0)))
    known_month = pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12))
    month_days = pc.take(_DAYS_IN_MONTH, pc.subtract(pc.if_else(known_month, month, 1), 1))
    month_days = pc.add(month_days, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int64()))
    real = pc.and_(pc.and_(shaped, known_month),
                   pc.and_(pc.greater_equal(year, 1), pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, month_days))))
    epoch_days = pc.cast(pc.cast(pc.if_else(real, date_text, "1970-01-01"), pa.date32()), pa.int32())
    return pc.cast(epoch_days, pa.int64()), real


def _remainder(values: pa.Array, divisor: int) -> pa.Array:
    """``values % divisor`` for non-negative integers (Arrow's integer division truncates)."""
    return pc.subtract(values, pc.multiply(pc.divide(values, divisor), divisor))
