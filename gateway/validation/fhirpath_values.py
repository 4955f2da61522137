"""Value semantics for the fast FHIRPath evaluator: equality, ordering, booleans.

Values are plain JSON values (``dict``, ``str``, ``bool``, ``int``, ``float``). Where
FHIRPath semantics depend on a type the JSON does not carry and the answer could differ
from plain comparison (dates of different precision, time zones, quantities), these
functions raise :class:`Unsupported` and the caller falls back to ``fhirpathpy``.

See http://hl7.org/fhirpath/N1/#equality and #comparison (partial date precision gives
an empty result).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any


class Unsupported(Exception):
    """The fast evaluator cannot decide this case; the caller must use ``fhirpathpy``."""


_TEMPORAL = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?"
)


_Parsed = tuple[tuple[int, ...], float, str | None]


def _temporal(value: str) -> _Parsed | None:
    """Components of a date/dateTime string, its fraction of a second and its zone."""
    m = _TEMPORAL.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    parts = [int(year)]
    for piece in (month, day, hour, minute, second):
        if piece is None:
            break
        parts.append(int(piece))
    if hour is not None and zone is None:
        raise Unsupported("date-time without a time zone")
    return tuple(parts), float(fraction) if fraction else 0.0, zone


def _instant(parsed: _Parsed) -> datetime:
    parts, fraction, zone = parsed
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    year, month, day, hour, minute, second = (*parts, 1, 1, 0, 0, 0)[:6]
    try:
        stamp = datetime(
            year, month, day, hour, minute, second, int(fraction * 1_000_000), timezone(offset)
        )
    except ValueError as exc:
        raise Unsupported(str(exc)) from exc
    return stamp.astimezone(UTC)


def compare_temporal(a: str, b: str) -> int | None:
    """-1/0/1, or ``None`` when FHIRPath says the result is empty (precision differs)."""
    ta, tb = _temporal(a), _temporal(b)
    if ta is None or tb is None:
        raise Unsupported("not a date")
    return _compare_parsed(ta, tb)


def _compare_parsed(ta: _Parsed, tb: _Parsed) -> int | None:
    (pa, fa, za), (pb, fb, zb) = ta, tb
    if za is not None or zb is not None:
        if za is None or zb is None or len(pa) != len(pb):
            raise Unsupported("date-times of different precision or zoning")
        if za != zb:
            ia, ib = _instant(ta), _instant(tb)
            return (ia > ib) - (ia < ib)
        ka: tuple[float, ...] = (*pa, fa)
        kb: tuple[float, ...] = (*pb, fb)
        return int(ka > kb) - int(ka < kb)
    common = min(len(pa), len(pb))
    if pa[:common] != pb[:common]:
        return (pa[:common] > pb[:common]) - (pa[:common] < pb[:common])
    return 0 if len(pa) == len(pb) else None


def looks_temporal(value: str) -> bool:
    return len(value) >= 4 and value[:4].isdigit() and _TEMPORAL.fullmatch(value) is not None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def equal(a: Any, b: Any) -> bool:
    """FHIRPath ``=`` on two single items."""
    if isinstance(a, str) and isinstance(b, str):
        if a == b:
            return True
        if looks_temporal(a) and looks_temporal(b):
            result = compare_temporal(a, b)
            if result is None:
                raise Unsupported("dates of different precision")
            return result == 0
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a == b
    return False


def compare(a: Any, b: Any) -> int | None:
    """FHIRPath ordering of two single items: -1/0/1, ``None`` for an empty result."""
    if is_number(a) and is_number(b):
        return int(a > b) - int(a < b)
    if isinstance(a, str) and isinstance(b, str):
        ta = _temporal(a) if a[:4].isdigit() else None
        tb = _temporal(b) if ta is not None and b[:4].isdigit() else None
        if ta is not None and tb is not None:
            return _compare_parsed(ta, tb)
        return (a > b) - (a < b)
    if isinstance(a, dict) and isinstance(b, dict):
        return _compare_quantities(a, b)
    raise Unsupported(f"cannot order {type(a).__name__} and {type(b).__name__}")


def _compare_quantities(a: dict[str, Any], b: dict[str, Any]) -> int | None:
    """Quantities in the same unit compare by value; other units need UCUM (fallback)."""
    va, vb = a.get("value"), b.get("value")
    if not isinstance(va, int | float) or not isinstance(vb, int | float):
        raise Unsupported("comparison of quantities without values")
    unit_a = (a.get("system"), a.get("code")) if "code" in a else (None, a.get("unit"))
    unit_b = (b.get("system"), b.get("code")) if "code" in b else (None, b.get("unit"))
    if unit_a != unit_b:
        raise Unsupported("comparison of quantities in different units")
    return int(va > vb) - int(va < vb)


def to_boolean(collection: list[Any]) -> bool | None:
    """Singleton evaluation of a collection in a boolean context (FHIRPath §4.5)."""
    if not collection:
        return None
    if len(collection) > 1:
        raise Unsupported("a collection of several items used as a boolean")
    item = collection[0]
    return item if isinstance(item, bool) else True


def to_string(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str):
        return item
    if is_number(item):
        return repr(item) if isinstance(item, float) else str(item)
    raise Unsupported("toString() of a complex value")
