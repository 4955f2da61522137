from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.errors import BadRequest
from gateway.fhir.instant import format_http_date, format_instant, parse_range, to_micros


def _utc(text: str) -> int:
    return to_micros(datetime.fromisoformat(text).replace(tzinfo=UTC))


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("2020", "2019-12-31T23:00:00", "2020-12-31T23:00:00"),
        ("2020-02", "2020-01-31T23:00:00", "2020-02-29T23:00:00"),
        # 29 March 2020: Paris moves to summer time, the day lasts 23 hours.
        ("2020-03-29", "2020-03-28T23:00:00", "2020-03-29T22:00:00"),
        # 25 October 2020: back to winter time, the day lasts 25 hours.
        ("2020-10-25", "2020-10-24T22:00:00", "2020-10-25T23:00:00"),
        ("2020-06-01T10:00:00Z", "2020-06-01T10:00:00", "2020-06-01T10:00:01"),
        ("2020-06-01T10:00:00+02:00", "2020-06-01T08:00:00", "2020-06-01T08:00:01"),
        ("2020-06-01T10:00:00.25Z", "2020-06-01T10:00:00.250000", "2020-06-01T10:00:00.260000"),
    ],
)
def test_partial_dates_stand_for_their_whole_period(value: str, low: str, high: str) -> None:
    assert parse_range(value) == (_utc(low), _utc(high))


@pytest.mark.parametrize("value", ["", "2020-13", "20-01-01", "2020-02-30", "yesterday"])
def test_invalid_values_are_400_naming_the_parameter(value: str) -> None:
    with pytest.raises(BadRequest, match="_since"):
        parse_range(value, what="_since")


def test_formats() -> None:
    micros = _utc("2026-11-22T23:31:31.123456")
    assert format_instant(micros) == "2026-11-22T23:31:31.123456Z"
    assert format_http_date(micros) == "Sun, 22 Nov 2026 23:31:31 GMT"
