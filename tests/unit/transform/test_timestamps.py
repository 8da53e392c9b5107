from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.transform.timestamps import parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-15T10:00:00Z", datetime(2024, 3, 15, 10, tzinfo=timezone.utc)),
        ("2024-03-15t10:00:00z", datetime(2024, 3, 15, 10, tzinfo=timezone.utc)),
        ("2024-03-15T00:30:00+02:00", datetime(2024, 3, 14, 22, 30, tzinfo=timezone.utc)),
        ("2024-03-15T23:30:00-01:30", datetime(2024, 3, 16, 1, 0, tzinfo=timezone.utc)),
        ("2024-03-15T10:00:00.123456789Z", datetime(2024, 3, 15, 10, 0, 0, 123456, tzinfo=timezone.utc)),
        ("2024-03-15T10:00:00.5Z", datetime(2024, 3, 15, 10, 0, 0, 500000, tzinfo=timezone.utc)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)),
    ],
)
def test_rfc3339_to_utc(text, expected):
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", ["2024-03-15", "2024-03-15T10:00:00", "yesterday", "2024-03-15T10:00Z"])
def test_not_rfc3339(text):
    with pytest.raises(ValueError, match="not an RFC 3339 date-time"):
        parse_rfc3339(text)
