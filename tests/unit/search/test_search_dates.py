"""Date ranges: partial precisions, fractions, offsets, and local time with DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.search.dates import InvalidDate, date_range, format_instant, period_range
from gateway.search.rows import MAX_INSTANT, MIN_INSTANT

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


def us(iso: str) -> int:
    """µs since the epoch of an ISO date-time with an offset (the test oracle)."""
    dt = datetime.fromisoformat(iso)
    assert dt.tzinfo is not None
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # Partial dates are read in Europe/Paris (winter +01:00, summer +02:00).
        ("2020", "2020-01-01T00:00:00+01:00", "2021-01-01T00:00:00+01:00"),
        ("2020-02", "2020-02-01T00:00:00+01:00", "2020-03-01T00:00:00+01:00"),
        ("2020-12", "2020-12-01T00:00:00+01:00", "2021-01-01T00:00:00+01:00"),
        ("2020-02-29", "2020-02-29T00:00:00+01:00", "2020-03-01T00:00:00+01:00"),
        ("2020-07-14", "2020-07-14T00:00:00+02:00", "2020-07-15T00:00:00+02:00"),
        # The day clocks go forward lasts 23 hours, the day they go back 25.
        ("2024-03-31", "2024-03-31T00:00:00+01:00", "2024-04-01T00:00:00+02:00"),
        ("2024-10-27", "2024-10-27T00:00:00+02:00", "2024-10-28T00:00:00+01:00"),
        ("2024-03", "2024-03-01T00:00:00+01:00", "2024-04-01T00:00:00+02:00"),
        # Date-times: the precision of the last component given.
        ("2020-03-04T10:15", "2020-03-04T10:15:00+01:00", "2020-03-04T10:16:00+01:00"),
        ("2020-03-04T10:15:30Z", "2020-03-04T10:15:30+00:00", "2020-03-04T10:15:31+00:00"),
        (
            "2020-03-04T10:15:30.25+02:00",
            "2020-03-04T10:15:30.250+02:00",
            "2020-03-04T10:15:30.260+02:00",
        ),
        (
            "2020-03-04T10:15:30.123456-05:30",
            "2020-03-04T10:15:30.123456-05:30",
            "2020-03-04T10:15:30.123457-05:30",
        ),
        (
            "2020-03-04T10:15:30.1234567Z",
            "2020-03-04T10:15:30.123456+00:00",
            "2020-03-04T10:15:30.123457+00:00",
        ),
        # A local time without offset, in summer.
        ("2020-07-01T12:00:00", "2020-07-01T12:00:00+02:00", "2020-07-01T12:00:01+02:00"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00", "0001-01-01T00:00:01+00:00"),
    ],
)
def test_date_range(text: str, low: str, high: str) -> None:
    assert date_range(text, PARIS) == (us(low), us(high))


def test_last_year_is_open_ended() -> None:
    low, high = date_range("9999", PARIS)
    assert low == us("9999-01-01T00:00:00+01:00")
    assert high == MAX_INSTANT


def test_zone_matters_only_without_offset() -> None:
    assert date_range("2020-01-01", UTC) != date_range("2020-01-01", PARIS)
    assert date_range("2020-01-01T00:00:00Z", UTC) == date_range("2020-01-01T00:00:00Z", PARIS)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "20",
        "2020-1",
        "2020-13",
        "2020-00",
        "2021-02-29",
        "2020-04-31",
        "0000",
        "2020-01-01T",
        "2020-01-01T25:00",
        "2020-01-01T10:60",
        "2020-01-01T10:00:61Z",
        "2020-01-01T10:00:00+15:00",
        "2020-01-01T10:00:00+01:60",
        "2020-01-01 10:00",
        "2020-01-01T10:00:00.Z",
        "today",
    ],
)
def test_invalid_dates(text: str) -> None:
    with pytest.raises(InvalidDate):
        date_range(text, PARIS)


def test_period_open_ends() -> None:
    assert period_range(None, None, PARIS) is None
    assert period_range("2020", None, PARIS) == (us("2020-01-01T00:00:00+01:00"), MAX_INSTANT)
    assert period_range(None, "2020-06", PARIS) == (MIN_INSTANT, us("2020-07-01T00:00:00+02:00"))


def test_format_instant() -> None:
    assert format_instant(0) == "1970-01-01T00:00:00Z"
    assert format_instant(MIN_INSTANT) == "-infinity"
    assert format_instant(MAX_INSTANT) == "+infinity"
