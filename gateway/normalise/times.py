"""Times: HL7 v2 timestamps and French local dates to FHIR date, dateTime and instant.

FHIR requires a UTC offset on every dateTime that carries a time
(https://hl7.org/fhir/R4/datatypes.html#dateTime). HL7 v2 makes the offset optional
(v2.5 §2.A.22 TS / §2.A.21 DTM: ``YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]``), and
CSV exports never carry one. When it is missing, the time is read as Europe/Paris
local time, with the daylight-saving offset in force at that instant (``zoneinfo``),
and the result says so in :attr:`FhirTime.assumption` so that the pipeline can record
it in the Provenance. Two local hours need a choice, also stated:

- the autumn fall-back hour happens twice: the first occurrence (summer time) is taken;
- the spring-forward hour does not exist: it is read with the winter offset (+01:00).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from gateway.normalise.errors import NormalisationError

PARIS = "Europe/Paris"
#: Distinct texts remembered by :func:`hl7_ts` and :func:`french_datetime`. They are pure
#: functions of their text (the zone rules are loaded once per process), and the same
#: times come back again and again: MSH-7, OBR-7 and OBX-14 of one message, every row of
#: a CSV export taken at one round. A refusal is not remembered (it raises each time).
_MEMO = 4096

_TS = re.compile(
    r"^(?P<y>\d{4})(?:(?P<mo>\d{2})(?:(?P<d>\d{2})(?:(?P<h>\d{2})(?:(?P<mi>\d{2})"
    r"(?:(?P<s>\d{2})(?:\.(?P<f>\d{1,4}))?)?)?)?)?)?(?P<tz>[+-]\d{4})?$"
)
_FR_DATE = re.compile(r"^(?P<d>\d{1,2})[/.\-](?P<mo>\d{1,2})[/.\-](?P<y>\d{2,4})$")
_ISO_DATE = re.compile(r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})$")
_TIME = re.compile(
    r"^(?P<h>\d{1,2})(?:[:hH](?P<mi>\d{2})?(?::(?P<s>\d{2}))?)?$|^(?P<h4>\d{2})(?P<mi4>\d{2})$"
)


@dataclass(frozen=True, slots=True)
class FhirTime:
    """A normalised time.

    ``value`` is a FHIR ``date`` (``2024``, ``2024-07``, ``2024-07-14``) when no time of
    day was given, else a FHIR ``dateTime`` with seconds and offset. ``assumption`` is
    set when the offset was not in the input.
    """

    value: str
    has_time: bool
    assumption: str | None = None

    @property
    def date(self) -> str:
        """The calendar date part (what a FHIR ``date`` element can hold)."""
        return self.value[:10]


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def localise(naive: datetime, tz: str = PARIS) -> tuple[datetime, str]:
    """Attach the zone's offset to a naive local time; returns it with the assumption made."""
    zone = ZoneInfo(tz)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    off = first.utcoffset() or timedelta(0)
    season = "summer time" if first.dst() else "winter time"
    if off == second.utcoffset():
        return (
            first,
            f"no UTC offset given: {tz} local time assumed ({_offset_text(off)}, {season})",
        )
    roundtrip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if roundtrip != naive:
        return first, (
            f"no UTC offset given and {naive:%Y-%m-%d %H:%M} does not exist in {tz} "
            f"(spring-forward gap): read with {_offset_text(off)}"
        )
    return first, (
        f"no UTC offset given and {naive:%Y-%m-%d %H:%M} happens twice in {tz} "
        f"(autumn fall-back): first occurrence assumed ({_offset_text(off)}, summer time)"
    )


def _format(moment: datetime, fraction: str | None) -> str:
    head = moment.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{fraction}" if fraction else ""
    return head + frac + _offset_text(moment.utcoffset() or timedelta(0))


def _parse_offset(text: str) -> timezone:
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[3:5])
    # FHIR's dateTime regex allows offsets up to +14:00 with minutes below 60.
    if minutes >= 60 or hours > 14 or (hours == 14 and minutes):
        raise NormalisationError(f"invalid UTC offset {text!r}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _build(
    year: int, month: int, day: int, hour: int, minute: int, second: int, tz: timezone | None
) -> datetime:
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise NormalisationError(f"not a valid date or time: {exc}") from exc


@lru_cache(maxsize=_MEMO)
def hl7_ts(text: str, *, tz: str = PARIS) -> FhirTime:
    """An HL7 v2 TS/DTM (its first component) as a FHIR date or dateTime."""
    raw = text.strip()
    m = _TS.match(raw)
    if not m:
        raise NormalisationError(f"{raw!r} is not an HL7 timestamp (YYYYMMDDHHMMSS[+ZZZZ])")
    year = int(m["y"])
    if year < 1:
        raise NormalisationError(f"{raw!r} has year 0")
    if m["h"] is None:
        # Date precision only: FHIR date has no offset, so a given offset is dropped.
        if m["mo"] is None:
            return FhirTime(f"{year:04d}", has_time=False)
        month = int(m["mo"])
        if not 1 <= month <= 12:
            raise NormalisationError(f"{raw!r} has month {month}")
        if m["d"] is None:
            return FhirTime(f"{year:04d}-{month:02d}", has_time=False)
        _build(year, month, int(m["d"]), 0, 0, 0, None)
        return FhirTime(f"{year:04d}-{month:02d}-{int(m['d']):02d}", has_time=False)
    naive = _build(
        year,
        int(m["mo"]),
        int(m["d"]),
        int(m["h"]),
        int(m["mi"] or 0),
        int(m["s"] or 0),
        None,
    )
    if m["tz"]:
        aware = naive.replace(tzinfo=_parse_offset(m["tz"]))
        return FhirTime(_format(aware, m["f"]), has_time=True)
    aware, assumption = localise(naive, tz)
    return FhirTime(_format(aware, m["f"]), has_time=True, assumption=assumption)


def french_date(text: str) -> date:
    """A calendar date written ``jj/mm/aaaa`` (also ``jj-mm-aaaa``, ``jj.mm.aaaa`` or ISO).

    Two-digit years are refused: in a resident roster ``01/02/30`` may be 1930 or 2030.
    """
    raw = text.strip()
    m = _FR_DATE.match(raw) or _ISO_DATE.match(raw)
    if not m:
        raise NormalisationError(f"{raw!r} is not a date (jj/mm/aaaa)")
    if len(m["y"]) != 4:
        raise NormalisationError(f"{raw!r}: the year must have four digits")
    try:
        return date(int(m["y"]), int(m["mo"]), int(m["d"]))
    except ValueError as exc:
        raise NormalisationError(f"{raw!r} is not a valid date: {exc}") from exc


def french_time(text: str) -> tuple[int, int, int]:
    """A time of day written ``hh:mm``, ``hh:mm:ss``, ``hhhmm``, ``hhh`` or ``hhmm``."""
    raw = text.strip()
    m = _TIME.match(raw)
    if not m:
        raise NormalisationError(f"{raw!r} is not a time of day (hh:mm)")
    if m["h4"]:
        hour, minute, second = int(m["h4"]), int(m["mi4"]), 0
    else:
        hour, minute, second = int(m["h"]), int(m["mi"] or 0), int(m["s"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise NormalisationError(f"{raw!r} is not a valid time of day")
    return hour, minute, second


@lru_cache(maxsize=_MEMO)
def french_datetime(date_text: str, time_text: str | None = None, *, tz: str = PARIS) -> FhirTime:
    """A local date (and optional time) from a French export as FHIR date or dateTime.

    The date may carry the time itself (``14/07/2024 08:30``); ``time_text`` is a
    separate time column. Without a time the result is a FHIR ``date``.
    """
    raw = date_text.strip()
    time_part = (time_text or "").strip()
    if " " in raw or "T" in raw[10:11]:
        head, _, tail = raw.replace("T", " ", 1).partition(" ")
        raw, time_part = head, tail.strip() or time_part
    day = french_date(raw)
    if not time_part:
        return FhirTime(day.isoformat(), has_time=False)
    hour, minute, second = french_time(time_part)
    naive = datetime(day.year, day.month, day.day, hour, minute, second)
    aware, assumption = localise(naive, tz)
    return FhirTime(_format(aware, None), has_time=True, assumption=assumption)


def as_instant(value: FhirTime, *, tz: str = PARIS) -> FhirTime:
    """A FHIR ``instant``: a full-precision dateTime; a bare date becomes local midnight."""
    if value.has_time:
        return value
    if len(value.value) != 10:
        raise NormalisationError(f"{value.value!r} is too imprecise for an instant")
    day = date.fromisoformat(value.value)
    aware, assumption = localise(datetime(day.year, day.month, day.day), tz)
    return FhirTime(
        _format(aware, None),
        has_time=True,
        assumption=f"date without a time of day read as local midnight; {assumption}",
    )


#: No one alive was born before this year; a record that old is a typing error (1085
#: for 1985), not a patient of a shared record.
EARLIEST_BIRTH_YEAR = 1850


def check_birth_date(value: str, *, today: date | None = None) -> None:
    """Refuse a FHIR ``date`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) no patient can
    have been born on: after today (Paris) or before :data:`EARLIEST_BIRTH_YEAR`."""
    now = today or datetime.now(ZoneInfo(PARIS)).date()
    if value > now.isoformat()[: len(value)]:
        raise NormalisationError(f"birth date {value} is in the future (today is {now})")
    if int(value[:4]) < EARLIEST_BIRTH_YEAR:
        raise NormalisationError(
            f"birth date {value} is before {EARLIEST_BIRTH_YEAR}: check the year"
        )
