"""FHIR instants and dateTimes ⇄ microseconds since the Unix epoch (UTC).

https://hl7.org/fhir/R4/datatypes.html#dateTime: a dateTime may be partial (``2020``,
``2020-03``, ``2020-03-01``) and then stands for the whole period it names. A value
without an offset is read in the given zone (Europe/Paris by default in the gateway).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from gateway.errors import BadRequest

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")

_DATETIME_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def to_micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def format_instant(micros: int) -> str:
    """``2026-11-22T23:31:31.123456Z``: a FHIR instant with microseconds, in UTC."""
    return from_micros(micros).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_http_date(micros: int) -> str:
    """An HTTP-date (RFC 9110 §5.6.7) for ``Last-Modified``."""
    return format_datetime(from_micros(micros).replace(microsecond=0), usegmt=True)


def parse_range(value: str, *, zone: tzinfo = PARIS, what: str = "date") -> tuple[int, int]:
    """The period ``[low, high)`` in microseconds that a (partial) dateTime stands for.

    Raises :class:`BadRequest` naming ``what`` when ``value`` is not a FHIR dateTime.
    """
    m = _DATETIME_RE.match(value.strip())
    if not m:
        raise BadRequest(f"Invalid {what} '{value}': expected a FHIR dateTime", code="GW-1301")
    try:
        year = int(m["y"])
        month = int(m["m"] or 1)
        day = int(m["d"] or 1)
        zone_of = _zone(m["tz"], zone)
        if m["d"] is None:
            low_local = datetime(year, month, 1, tzinfo=zone_of)
            high_local = (
                datetime(year + 1, 1, 1, tzinfo=zone_of)
                if m["m"] is None
                else _add_month(low_local)
            )
            return to_micros(low_local), to_micros(high_local)
        if m["H"] is None:
            low_local = datetime(year, month, day, tzinfo=zone_of)
            return to_micros(low_local), to_micros(_next_day(low_local))
        frac = (m["f"] or "")[:6].ljust(6, "0")
        moment = datetime(
            year, month, day, int(m["H"]), int(m["M"]), int(m["S"] or 0), int(frac), tzinfo=zone_of
        )
        step = 60_000_000 if m["S"] is None else 10 ** (6 - min(len(m["f"] or ""), 6))
        low = to_micros(moment)
        return low, low + step
    except ValueError as exc:
        raise BadRequest(f"Invalid {what} '{value}': {exc}", code="GW-1301") from None


def _zone(text: str | None, default: tzinfo) -> tzinfo:
    if text is None:
        return default
    if text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _add_month(moment: datetime) -> datetime:
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1)
    return moment.replace(month=moment.month + 1)


def _next_day(moment: datetime) -> datetime:
    # Calendar arithmetic in the local zone: a DST day is 23 or 25 hours long.
    naive = moment.replace(tzinfo=None) + timedelta(days=1)
    return naive.replace(tzinfo=moment.tzinfo)
