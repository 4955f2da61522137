"""A naive, independent reference implementation of the searches the differential test draws.

It reads the resources as dicts, never index rows, and shares no code with the
gateway's extraction or SQL: dates through :mod:`datetime`/:mod:`zoneinfo`, numbers
through :class:`~decimal.Decimal`, strings through :mod:`unicodedata`. The semantics
are the R4 search page's, with the choices the gateway documents (``ap``, ``sa``/``eb``
on numbers, UCUM mg/g canonical forms).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
INF = 2**62
UCUM = "http://unitsofmeasure.org"
TO_GRAMS = {"mg": Decimal("0.001"), "g": Decimal(1)}
_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)

Resource = dict[str, Any]
Matcher = Callable[[Resource, dict[str, Resource]], bool]


def micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def date_range(text: str) -> tuple[int, int]:
    """``[low, high)`` in µs of a (partial) FHIR date or dateTime."""
    m = _DATE.match(text)
    assert m is not None, text
    y, mo, d, h, mi, s, zone = m.groups()
    if h is None:
        start = datetime(int(y), int(mo or 1), int(d or 1))
        if d:
            end = start + timedelta(days=1)
        elif mo:
            end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1)
        else:
            end = datetime(start.year + 1, 1, 1)
        return micros(start.replace(tzinfo=PARIS)), micros(end.replace(tzinfo=PARIS))
    if zone is None:
        tz: Any = PARIS
    elif zone == "Z":
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    start = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=tz)
    width = 1_000_000 if s is not None else 60_000_000
    return micros(start), micros(start) + width


def resource_dates(resource: Resource, key: str) -> list[tuple[int, int]]:
    if resource.get(key + "DateTime"):
        return [date_range(resource[key + "DateTime"])]
    if resource.get(key):
        return [date_range(resource[key])]
    period = resource.get(key + "Period")
    if period:
        low = date_range(period["start"])[0] if "start" in period else -INF
        high = date_range(period["end"])[1] if "end" in period else INF
        return [(low, high)]
    return []


def date_matches(prefix: str, q: tuple[int, int], r: tuple[int, int], now: int) -> bool:
    (ql, qh), (low, high) = q, r
    inside = ql <= low and high <= qh
    if prefix == "ap":
        margin = max(ql - now, now - qh, 0) // 10
        return low < qh + margin and high > ql - margin
    return {
        "eq": inside,
        "ne": not inside,
        "gt": high > qh,
        "lt": low < ql,
        "ge": high > qh or inside,
        "le": low < ql or inside,
        "sa": low >= qh,
        "eb": high <= ql,
    }[prefix]


def precision(value: Decimal) -> tuple[Decimal, Decimal]:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return value - half, value + half


def number_matches(prefix: str, q: Decimal, value: Decimal, scale: Decimal = Decimal(1)) -> bool:
    """``value`` (as written, in the unit ``scale`` converts from) against ``q``."""
    ql, qh = (x * scale for x in precision(q))
    q = q * scale
    low, high = (x * scale for x in precision(value))
    v = value * scale
    inside = ql <= v < qh
    if prefix == "ap":
        return inside or abs(v - q) <= abs(q) * Decimal("0.1")
    return {
        "eq": inside,
        "ne": not inside,
        "gt": v > q,
        "lt": v < q,
        "ge": v >= q,
        "le": v <= q,
        "sa": low >= qh,
        "eb": high <= ql,
    }[prefix]


def quantity_matches(prefix: str, q: Decimal, unit: str | None, quantity: Resource) -> bool:
    value = quantity["value"]
    if unit is None:
        return number_matches(prefix, q, value)
    if quantity.get("system") != UCUM or quantity.get("code") not in TO_GRAMS:
        return False
    # Same unit: as written; otherwise both sides in grams (the canonical unit).
    literal = quantity["code"] == unit and number_matches(prefix, q, value)
    stored_scale = TO_GRAMS[quantity["code"]]
    query_scale = TO_GRAMS[unit]
    ql, qh = (x * query_scale for x in precision(q))
    qc = q * query_scale
    low, high = (x * stored_scale for x in precision(value))
    v = value * stored_scale
    inside = ql <= v < qh
    canonical = {
        "eq": inside,
        "ne": not inside,
        "gt": v > qc,
        "lt": v < qc,
        "ge": v >= qc,
        "le": v <= qc,
        "sa": low >= qh,
        "eb": high <= ql,
        "ap": inside or abs(v - qc) <= abs(qc) * Decimal("0.1"),
    }[prefix]
    return literal or canonical


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def name_values(patient: Resource, part: str | None = None) -> list[str]:
    """The strings a Patient's ``name`` (or ``family``/``given``) parameter indexes."""
    out: list[str] = []
    for name in patient.get("name", []):
        family = [name["family"]] if "family" in name else []
        given = list(name.get("given", []))
        if part == "family":
            out += family
        elif part == "given":
            out += given
        else:
            out += family + given + [name.get("text") or " ".join(given + family)]
    return [v for v in out if v]


def string_matches(modifier: str | None, query: str, value: str) -> bool:
    if modifier == "exact":
        return value == query
    if modifier == "contains":
        return normalise(query) in normalise(value)
    return normalise(value).startswith(normalise(query))


def token_matches(query: str, codings: list[tuple[str | None, str]]) -> bool:
    if "|" not in query:
        return any(code == query for _, code in codings)
    system, _, code = query.partition("|")
    if not system:
        return any(s is None and c == code for s, c in codings)
    if not code:
        return any(s == system for s, _ in codings)
    return any(s == system and c == code for s, c in codings)
