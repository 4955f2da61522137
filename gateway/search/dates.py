"""FHIR dates as half-open instant ranges ``[low, high)`` in µs since the epoch (UTC).

A date-like value stands for the whole interval its precision implies
(https://hl7.org/fhir/R4/search.html#date): ``2020`` is the year 2020,
``2020-03-04T10:15`` the minute, ``…:30.25`` the hundredth of a second. Values without
a UTC offset (all dates, and date-times that omit it) are read in the configured time
zone, with its daylight-saving rules: in Europe/Paris ``2024-03-31`` lasts 23 hours.

The same parser reads stored values (``date``, ``dateTime``, ``instant``) and search
values, which may also stop at the minute (``2013-01-02T10:00``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from gateway.search.rows import MAX_INSTANT, MIN_INSTANT

_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,12}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_US_PER_S = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_S


class InvalidDate(ValueError):
    """The text is not a FHIR date, dateTime or instant."""


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _local_to_utc(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int, tz: ZoneInfo) -> int:
    naive = (_days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * _US_PER_S + us
    offset = datetime(y, mo, d, h, mi, s, tzinfo=tz).utcoffset() or timedelta(0)
    return naive - (offset.days * 86_400 + offset.seconds) * _US_PER_S


# Timestamps repeat across the resources of one encounter or message; caching the
# parse is the cheapest way to keep extraction fast.
@lru_cache(maxsize=8192)
def date_range(text: str, tz: ZoneInfo) -> tuple[int, int]:
    """``[low, high)`` of a FHIR date/dateTime/instant, or :class:`InvalidDate`."""
    m = _DATE.match(text)
    if m is None:
        raise InvalidDate(text)
    ys, mos, ds, hs, mis, ss, frac, zone = m.groups()
    y = int(ys)
    if y == 0:
        raise InvalidDate(text)
    mo = int(mos) if mos else 1
    d = int(ds) if ds else 1
    if not 1 <= mo <= 12 or not 1 <= d <= _days_in_month(y, mo):
        raise InvalidDate(text)
    if hs is None:
        # Date precision: the interval between two local midnights.
        if ds:
            end = (y, mo, d + 1) if d < _days_in_month(y, mo) else _next_month(y, mo)
        elif mos:
            end = _next_month(y, mo)
        else:
            end = (y + 1, 1, 1)
        low = _local_to_utc(y, mo, d, 0, 0, 0, 0, tz)
        high = MAX_INSTANT if end[0] > 9999 else _local_to_utc(*end, 0, 0, 0, 0, tz)
        return low, high
    h, mi = int(hs), int(mis)
    s = int(ss) if ss else 0
    if h > 23 or mi > 59 or s > 59:
        raise InvalidDate(text)
    if frac:
        digits = frac[:6]
        us = int(digits.ljust(6, "0"))
        width = 10 ** (6 - len(digits))
    else:
        us = 0
        width = _US_PER_S if ss else 60 * _US_PER_S
    if zone is None:
        low = _local_to_utc(y, mo, d, h, mi, s, us, tz)
    else:
        low = (_days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * _US_PER_S + us
        if zone != "Z":
            oh, om = int(zone[1:3]), int(zone[4:6])
            if oh > 14 or om > 59:
                raise InvalidDate(text)
            offset = (oh * 3600 + om * 60) * _US_PER_S
            low = low - offset if zone[0] == "+" else low + offset
    return low, low + width


def _next_month(y: int, mo: int) -> tuple[int, int, int]:
    return (y + 1, 1, 1) if mo == 12 else (y, mo + 1, 1)


def period_range(start: str | None, end: str | None, tz: ZoneInfo) -> tuple[int, int] | None:
    """A Period: open ends reach the minimum/maximum instant; ``None`` when both absent."""
    if start is None and end is None:
        return None
    low = date_range(start, tz)[0] if start is not None else MIN_INSTANT
    high = date_range(end, tz)[1] if end is not None else MAX_INSTANT
    return low, high


def format_instant(us: int) -> str:
    """An instant (µs since the epoch) as an ISO 8601 UTC string, for diagnostics."""
    if us <= MIN_INSTANT:
        return "-infinity"
    if us >= MAX_INSTANT:
        return "+infinity"
    days, rem = divmod(us, _US_PER_DAY)
    base = datetime(1970, 1, 1) + timedelta(days=days, microseconds=rem)
    return base.isoformat() + "Z"
