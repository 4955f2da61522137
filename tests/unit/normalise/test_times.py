"""HL7 timestamps and French dates to FHIR, with Europe/Paris offsets and DST."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.normalise.errors import NormalisationError
from gateway.normalise.times import (
    as_instant,
    check_birth_date,
    french_date,
    french_datetime,
    hl7_ts,
)


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2024", "2024"),
        ("202407", "2024-07"),
        ("20240714", "2024-07-14"),
        ("20240714+0200", "2024-07-14"),  # a date has no offset in FHIR
        ("202407140830+0200", "2024-07-14T08:30:00+02:00"),
        ("20240714083015-0500", "2024-07-14T08:30:15-05:00"),
        ("20240714083015.1234+0000", "2024-07-14T08:30:15.1234+00:00"),
        ("198808181126+0215", "1988-08-18T11:26:00+02:15"),
    ],
)
def test_hl7_ts_with_offset_or_date_only(ts: str, expected: str) -> None:
    result = hl7_ts(ts)
    assert result.value == expected
    assert result.assumption is None


def test_summer_time_without_offset_is_paris_plus_two() -> None:
    result = hl7_ts("202407140830")
    assert result.value == "2024-07-14T08:30:00+02:00"
    assert result.assumption is not None
    assert "Europe/Paris" in result.assumption
    assert "+02:00" in result.assumption
    assert "summer" in result.assumption


def test_winter_time_without_offset_is_paris_plus_one() -> None:
    result = hl7_ts("20240114083000")
    assert result.value == "2024-01-14T08:30:00+01:00"
    assert result.assumption is not None
    assert "+01:00" in result.assumption
    assert "winter" in result.assumption


def test_dst_transition_days() -> None:
    # 31 March 2024: 01:59 is winter time, 03:00 is summer time.
    assert hl7_ts("202403310159").value == "2024-03-31T01:59:00+01:00"
    assert hl7_ts("202403310300").value == "2024-03-31T03:00:00+02:00"
    gap = hl7_ts("202403310230")
    assert gap.value == "2024-03-31T02:30:00+01:00"
    assert gap.assumption is not None
    assert "does not exist" in gap.assumption
    # 27 October 2024: 02:30 happens twice; the first (summer) one is taken.
    twice = hl7_ts("202410270230")
    assert twice.value == "2024-10-27T02:30:00+02:00"
    assert twice.assumption is not None
    assert "happens twice" in twice.assumption


@pytest.mark.parametrize(
    "bad",
    ["", "2024-07-14", "20241314", "20240230", "2024071425", "20240714083000+2500", "abc", "0000"],
)
def test_hl7_ts_refuses_invalid(bad: str) -> None:
    with pytest.raises(NormalisationError):
        hl7_ts(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14/07/2024", date(2024, 7, 14)),
        ("1/2/1930", date(1930, 2, 1)),
        ("2024-07-14", date(2024, 7, 14)),
    ],
)
def test_french_date(text: str, expected: date) -> None:
    assert french_date(text) == expected


@pytest.mark.parametrize("bad", ["14/07/24", "31/02/2024", "2024/07/14", "14 juillet 2024", ""])
def test_french_date_refuses_two_digit_years_and_nonsense(bad: str) -> None:
    with pytest.raises(NormalisationError):
        french_date(bad)


def test_french_datetime_forms() -> None:
    assert french_datetime("14/07/2024").value == "2024-07-14"
    assert french_datetime("14/07/2024", "08:30").value == "2024-07-14T08:30:00+02:00"
    assert french_datetime("14/07/2024 8h30").value == "2024-07-14T08:30:00+02:00"
    assert french_datetime("14/01/2024", "0830").value == "2024-01-14T08:30:00+01:00"
    assert french_datetime("2024-01-14T08:30").value == "2024-01-14T08:30:00+01:00"
    with pytest.raises(NormalisationError):
        french_datetime("14/07/2024", "25:00")


def test_as_instant_pads_dates_to_local_midnight() -> None:
    instant = as_instant(hl7_ts("20240714"))
    assert instant.value == "2024-07-14T00:00:00+02:00"
    assert instant.assumption is not None
    assert "midnight" in instant.assumption
    with pytest.raises(NormalisationError):
        as_instant(hl7_ts("2024"))


@given(st.text(max_size=40))
def test_hl7_ts_never_crashes(text: str) -> None:
    with contextlib.suppress(NormalisationError):
        hl7_ts(text)


@given(st.datetimes(min_value=datetime(1900, 1, 1)))
def test_hl7_ts_round_trips_naive_datetimes(moment: datetime) -> None:
    result = hl7_ts(moment.strftime("%Y%m%d%H%M%S"))
    assert result.value.startswith(moment.strftime("%Y-%m-%dT%H:%M:%S"))
    assert result.value[-6:] in {"+01:00", "+02:00", "+00:09", "+00:00"}


@pytest.mark.parametrize("value", ["2026-11-24", "2026-11", "2026", "1850-01-01", "1903-02-28"])
def test_a_birth_date_up_to_today_passes(value: str) -> None:
    check_birth_date(value, today=date(2026, 11, 24))


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("2026-11-25", "in the future (today is 2026-11-24)"),
        ("2026-12", "in the future"),
        ("2027", "in the future"),
        ("1849-12-31", "before 1850"),
        ("1085", "before 1850"),
    ],
)
def test_a_birth_date_no_patient_can_have_is_refused(value: str, said: str) -> None:
    with pytest.raises(NormalisationError) as refused:
        check_birth_date(value, today=date(2026, 11, 24))
    assert said in refused.value.message and refused.value.kind == "value"
