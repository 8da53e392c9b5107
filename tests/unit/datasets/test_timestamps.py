from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import FormatChecker

from chalicelib.datasets.timestamps import iso_date_column, parse_rfc3339, rfc3339_column


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-15T10:00:00Z", datetime(2024, 3, 15, 10, tzinfo=UTC)),
        ("2024-03-15t10:00:00z", datetime(2024, 3, 15, 10, tzinfo=UTC)),
        ("2024-03-15T00:30:00+02:00", datetime(2024, 3, 14, 22, 30, tzinfo=UTC)),
        ("2024-03-15T23:30:00-01:30", datetime(2024, 3, 16, 1, 0, tzinfo=UTC)),
        ("2024-03-15T10:00:00.123456789Z", datetime(2024, 3, 15, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-03-15T10:00:00.5Z", datetime(2024, 3, 15, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_rfc3339_to_utc(text, expected):
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", ["2024-03-15", "2024-03-15T10:00:00", "yesterday", "2024-03-15T10:00Z"])
def test_not_rfc3339(text):
    with pytest.raises(ValueError, match="not an RFC 3339 date-time"):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-15T10:00:00Z\n", datetime(2024, 3, 15, 10, tzinfo=UTC)),
        ("0001-01-01T00:30:00+00:30", datetime(1, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_edges_the_reference_validator_accepts(text, expected):
    # GIVEN a string jsonschema's date-time check accepts
    assert FormatChecker().conforms(text, "date-time")
    # THEN it converts
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+00:01"])
def test_valid_date_time_outside_utc_timestamp_range(text):
    assert FormatChecker().conforms(text, "date-time")
    with pytest.raises(ValueError, match="outside years 1 to 9999 in UTC"):
        parse_rfc3339(text)


def test_non_ascii_digits_are_not_digits():
    with pytest.raises(ValueError, match="not an RFC 3339 date-time"):
        parse_rfc3339("２０２４-03-15T10:00:00Z")


@st.composite
def date_time_like(draw):
    """Strings shaped like RFC 3339 date-times, each field ranging a little past its valid values."""
    def field(low, high, width=2):
        return str(draw(st.integers(low, high))).zfill(width)

    date = f"{field(0, 9999, 4)}-{field(0, 13)}-{field(0, 32)}"
    time = f"{field(0, 24)}:{field(0, 60)}:{field(0, 61)}"
    fraction = draw(st.sampled_from(["", "." + field(0, 10**12 - 1, draw(st.integers(1, 12)))]))
    zone = draw(st.sampled_from(["Z", "z", f"{draw(st.sampled_from('+-'))}{field(0, 24)}:{field(0, 60)}"]))
    separator = draw(st.sampled_from("Tt "))
    trailer = draw(st.sampled_from(["", "", "\n", " "]))
    return f"{date}{separator}{time}{fraction}{zone}{trailer}"


@given(st.one_of(date_time_like(), st.text(max_size=30)))
@settings(max_examples=500, deadline=None)
def test_everything_the_reference_accepts_converts(text):
    # The validate stage relies on this: a schema-valid date-time either converts
    # or fails only for the UTC range (which validate quarantines as "storage").
    if not FormatChecker().conforms(text, "date-time"):
        return
    try:
        parse_rfc3339(text)
    except ValueError as error:
        assert "outside years 1 to 9999 in UTC" in str(error)


common_spelling = st.builds(
    lambda moment, digits, offset: moment.strftime("%Y-%m-%dT%H:%M:%S")
    + (f".{moment.microsecond:06d}"[: digits + 1] if digits else "")
    + ("Z" if offset is None else f"{'+' if offset >= 0 else '-'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
    st.integers(0, 6),
    st.none() | st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
other_text = st.sampled_from(["2023-02-29T00:00:00Z", "2024-03-01t10:00:00z", "2024-03-01T10:00:60Z",
                              "2024-03-01T10:00:00.1234567Z", "0000-01-01T00:00:00Z", "2024-03-01T10:00:00Z\n",
                              "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00", "2024-3-01T10:00:00Z"])


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(common_spelling | other_text, min_size=1, max_size=12))
def test_timestamp_column_equals_parse_rfc3339_wherever_it_parses(texts):
    # A batch whose dates are all real goes through Arrow's parser, any other through the field
    # arithmetic: the generated batches take both ways.
    stamps, parsed = rfc3339_column(pa.array(texts))
    for text, stamp, ok in zip(texts, stamps.to_pylist(), parsed.to_pylist()):
        assert (stamp is not None) == ok
        if ok:  # what the columnar path parses, the reference parses alike and its validator accepts
            assert stamp == parse_rfc3339(text)
            assert FormatChecker().conforms(text, "date-time")


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(common_spelling, min_size=1, max_size=12))
def test_common_spelling_is_parsed_by_the_columnar_path(texts):
    _stamps, parsed = rfc3339_column(pa.array(texts))
    assert parsed.to_pylist() == [_in_utc_range(text) for text in texts]


def _in_utc_range(text: str) -> bool:
    try:
        parse_rfc3339(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("text", "expected"), [("2024-02-29", date(2024, 2, 29)), ("2023-02-29", None),
                                                ("0000-01-01", None), ("2024-1-01", None), ("9999-12-31", date(9999, 12, 31))])
def test_date_column(text, expected):
    dates, parsed = iso_date_column(pa.array([text, "2024-01-01"]))
    assert dates.to_pylist()[0] == expected and parsed.to_pylist()[0] == (expected is not None)
