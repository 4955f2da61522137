"""Quantity, number and uri rows (https://hl7.org/fhir/R4/search.html#quantity).

Quantity and its specialisations, Money (currency as an ISO 4217 code) and Range
(from the low bound's lower edge to the high bound's upper edge, open ends infinite)
index the value with its precision range; a quantity in a UCUM unit of
:mod:`gateway.search.ucum` gets a second row in the canonical unit
(``canonical=True``). Numbers index likewise; uris as they are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.builders.base import text_of
from gateway.search.numbers import InvalidNumber, precision_range, to_decimal
from gateway.search.rows import IndexRows, NumberRow, QuantityRow, UriRow
from gateway.search.ucum import UCUM, to_canonical

ISO_4217 = "urn:iso:std:iso:4217"


def _decimal(value: Any) -> Decimal | None:
    try:
        return to_decimal(value)
    except InvalidNumber:
        return None


def _add_quantity(
    out: list[QuantityRow],
    code: str,
    value: Decimal,
    low: Decimal,
    high: Decimal,
    system: str | None,
    unit_code: str | None,
    unit: str | None,
) -> None:
    out.append(QuantityRow(code, float(value), float(low), float(high), system, unit_code, unit))
    if unit_code is not None and system == UCUM:
        canon = to_canonical(value, unit_code)
        if canon is not None and (canon[0] != unit_code or canon[1] != value):
            c_code = canon[0]
            _, c_low = to_canonical(low, unit_code) or (c_code, low)
            _, c_high = to_canonical(high, unit_code) or (c_code, high)
            out.append(
                QuantityRow(
                    code, float(canon[1]), float(c_low), float(c_high), UCUM, c_code, unit, True
                )
            )


def quantity(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for q in values:
        if q.__class__ is not dict:
            continue
        value = _decimal(q.get("value"))
        if value is None:
            continue
        low, high = precision_range(value)
        _add_quantity(
            rows.quantities,
            code,
            value,
            low,
            high,
            text_of(q.get("system")),
            text_of(q.get("code")),
            text_of(q.get("unit")),
        )


def money(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for m in values:
        if m.__class__ is not dict:
            continue
        value = _decimal(m.get("value"))
        if value is None:
            continue
        low, high = precision_range(value)
        currency = text_of(m.get("currency"))
        _add_quantity(
            rows.quantities, code, value, low, high, ISO_4217 if currency else None, currency, None
        )


def range_(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for r in values:
        if r.__class__ is not dict:
            continue
        lo_q, hi_q = r.get("low"), r.get("high")
        lo = _decimal(lo_q.get("value")) if lo_q.__class__ is dict else None
        hi = _decimal(hi_q.get("value")) if hi_q.__class__ is dict else None
        if lo is None and hi is None:
            continue
        unit_src: dict[str, Any] = lo_q if lo is not None else hi_q  # type: ignore[assignment]
        low = precision_range(lo)[0] if lo is not None else Decimal("-Infinity")
        high = precision_range(hi)[1] if hi is not None else Decimal("Infinity")
        value = lo if lo is not None else hi
        assert value is not None
        _add_quantity(
            rows.quantities,
            code,
            value,
            low,
            high,
            text_of(unit_src.get("system")),
            text_of(unit_src.get("code")),
            text_of(unit_src.get("unit")),
        )


def quantity_number(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    """A bare number under a quantity parameter: a quantity without a unit."""
    for v in values:
        value = _decimal(v)
        if value is not None:
            low, high = precision_range(value)
            _add_quantity(rows.quantities, code, value, low, high, None, None, None)


def number(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        value = _decimal(v)
        if value is not None:
            low, high = precision_range(value)
            rows.numbers.append(NumberRow(code, float(value), float(low), float(high)))


# --- uri -------------------------------------------------------------------------------


def uri(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        if isinstance(v, str) and v:
            rows.uris.append(UriRow(code, v))
