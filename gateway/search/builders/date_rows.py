"""Date rows (https://hl7.org/fhir/R4/search.html#date): ``[low, high)`` in µs, UTC.

date/dateTime/instant → their precision range; Period → start to end, open ends
unbounded; Timing → the outer limits of its events and ``repeat.boundsPeriod`` (the
schedule itself is ignored, as the spec says). Malformed values and inverted periods
index nothing.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.dates import InvalidDate, date_range, period_range
from gateway.search.rows import MAX_INSTANT, MIN_INSTANT, DateRow, IndexRows


def date_value(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        if isinstance(v, str):
            try:
                low, high = date_range(v, tz)
            except (InvalidDate, ValueError, OverflowError):
                continue
            rows.dates.append(DateRow(code, low, high))


def date_period(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for p in values:
        if p.__class__ is not dict:
            continue
        start, end = p.get("start"), p.get("end")
        try:
            bounds = period_range(
                start if isinstance(start, str) else None, end if isinstance(end, str) else None, tz
            )
        except (InvalidDate, ValueError, OverflowError):
            continue
        # An inverted period breaks invariant per-1; validation rejects it, index nothing.
        if bounds is not None and bounds[0] < bounds[1]:
            rows.dates.append(DateRow(code, bounds[0], bounds[1]))


def date_timing(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for t in values:
        if t.__class__ is not dict:
            continue
        lows: list[int] = []
        highs: list[int] = []
        events = t.get("event")
        for e in events if isinstance(events, list) else ():
            try:
                low, high = date_range(e, tz) if isinstance(e, str) else (None, None)
            except (InvalidDate, ValueError, OverflowError):
                continue
            if low is not None and high is not None:
                lows.append(low)
                highs.append(high)
        repeat = t.get("repeat")
        bounds = repeat.get("boundsPeriod") if repeat.__class__ is dict else None
        if bounds.__class__ is dict:
            start, end = bounds.get("start"), bounds.get("end")
            try:
                rng = period_range(
                    start if isinstance(start, str) else None,
                    end if isinstance(end, str) else None,
                    tz,
                )
            except (InvalidDate, ValueError, OverflowError):
                rng = None
            if rng is not None:
                lows.append(rng[0])
                highs.append(rng[1])
        if lows and min(lows) < max(highs):
            rows.dates.append(
                DateRow(code, max(min(lows), MIN_INSTANT), min(max(highs), MAX_INSTANT))
            )
