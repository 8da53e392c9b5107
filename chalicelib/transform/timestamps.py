"""RFC 3339 date-times to UTC ``datetime`` (microsecond precision, as Parquet stores them)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

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
    offset = timezone.utc
    if match.group(9):
        sign = 1 if match.group(9) == "+" else -1
        offset = timezone(sign * timedelta(hours=int(match.group(10)), minutes=int(match.group(11))))
    try:
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=offset).astimezone(timezone.utc)
    except OverflowError as error:
        raise ValueError(f"{text!r} is outside years 1 to 9999 in UTC") from error
