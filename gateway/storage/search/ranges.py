"""Date, number and quantity criteria: the comparison prefixes over ranges.

Dates (https://hl7.org/fhir/R4/search.html#prefix): a search value stands for its
implicit range ``[ql, qh)`` and a stored value for ``[low, high)``:

====  ================================================  =============================
eq    the search range contains the stored range        ``ql <= low AND high <= qh``
ne    it does not                                        ``NOT eq``
gt    the stored range reaches above the search range   ``high > qh``
lt    the stored range reaches below the search range   ``low < ql``
ge    ``gt`` or ``eq``                                  lt/le likewise
sa    the stored range starts after the search range   ``low >= qh``
eb    the stored range ends before the search range     ``high <= ql``
ap    the ranges overlap once the search range is       ``low < qh + m AND high > ql - m``
      widened by ``m`` = 10 % of its distance to now
====  ================================================  =============================

``ap`` follows the spec's suggestion ("10% of the gap between now and the date"): a
search for a day a year ago tolerates about 36 days either side; for today, none.

Numbers and quantities compare the stored value with the search value; ``eq``/``ne``
use the search value's precision range (``eq100`` is ``[99.5, 100.5)``), ``sa``/``eb``
the stored value's own range, and ``ap`` accepts ±10 % of the search value (or the
precision range, if wider). A resource matches when any of its values does.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, and_, false, not_, or_

from gateway.search.query import Clause, DateValue, NumberValue, Prefix, QuantityValue
from gateway.search.ucum import UCUM
from gateway.storage import schema as s
from gateway.storage.search.scope import SqlContext, Subject, clip, index_match

D = s.idx_date
N = s.idx_number
Q = s.idx_quantity
AP_FRACTION = Decimal("0.1")


def ap_margin(low: int, high: int, now: int) -> int:
    """The ``ap`` tolerance of a date range: 10 % of its distance from now (µs)."""
    distance = max(low - now, now - high, 0)
    return distance // 10


def date_condition(
    prefix: Prefix,
    ql: int,
    qh: int,
    low: ColumnElement[int],
    high: ColumnElement[int],
    now: int,
) -> ColumnElement[bool]:
    inside = and_(low >= ql, high <= qh)
    if prefix == "eq":
        return inside
    if prefix == "ne":
        return not_(inside)
    if prefix == "gt":
        return high > qh
    if prefix == "lt":
        return low < ql
    if prefix == "ge":
        return or_(high > qh, inside)
    if prefix == "le":
        return or_(low < ql, inside)
    if prefix == "sa":
        return low >= qh
    if prefix == "eb":
        return high <= ql
    margin = ap_margin(ql, qh, now)
    return and_(low < qh + margin, high > ql - margin)


def date_clause(
    subject: Subject, clause: Clause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    values = [v for v in clause.values if isinstance(v, DateValue)]
    terms = [date_condition(v.prefix, v.low, v.high, D.c.low, D.c.high, ctx.now) for v in values]
    cond = terms[0] if len(terms) == 1 else or_(*terms)
    return index_match(subject, D, clause.param, cond, driver=driver)


def number_condition(
    prefix: Prefix,
    value: Decimal,
    ql: Decimal,
    qh: Decimal,
    column: ColumnElement[float],
    low: ColumnElement[float],
    high: ColumnElement[float],
) -> ColumnElement[bool]:
    v, lo, hi = float(value), float(ql), float(qh)
    inside = and_(column >= lo, column < hi)
    if prefix == "eq":
        return inside
    if prefix == "ne":
        return not_(inside)
    if prefix == "gt":
        return column > v
    if prefix == "lt":
        return column < v
    if prefix == "ge":
        return column >= v
    if prefix == "le":
        return column <= v
    if prefix == "sa":
        return low >= hi
    if prefix == "eb":
        return high <= lo
    tolerance = abs(value) * AP_FRACTION
    return or_(inside, and_(column >= float(value - tolerance), column <= float(value + tolerance)))


def number_clause(
    subject: Subject, clause: Clause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    values = [v for v in clause.values if isinstance(v, NumberValue)]
    terms = [
        number_condition(v.prefix, v.value, v.low, v.high, N.c.value, N.c.low, N.c.high)
        for v in values
    ]
    cond = terms[0] if len(terms) == 1 else or_(*terms)
    return index_match(subject, N, clause.param, cond, driver=driver)


def quantity_value(v: QuantityValue) -> ColumnElement[bool]:
    """One quantity search value: as written, and in its canonical UCUM unit if known.

    Without a unit only the rows as written count (never the extra canonical rows,
    which would match converted values). ``value||code`` matches the unit code or
    the unit's text.
    """
    literal = number_condition(v.prefix, v.value, v.low, v.high, Q.c.value, Q.c.low, Q.c.high)
    conds: list[ColumnElement[bool]] = [Q.c.canonical.is_(False), literal]
    if v.system is not None:
        conds.append(Q.c.system == clip(v.system))
    if v.code is not None:
        code = clip(v.code)
        conds.append(
            Q.c.code == code if v.system is not None else or_(Q.c.code == code, Q.c.unit == code)
        )
    terms = [and_(*conds)]
    c = v.canonical
    if c is not None:
        terms.append(
            and_(
                Q.c.system == UCUM,
                Q.c.code == c.code,
                number_condition(v.prefix, c.value, c.low, c.high, Q.c.value, Q.c.low, Q.c.high),
            )
        )
    return terms[0] if len(terms) == 1 else or_(*terms)


def quantity_clause(
    subject: Subject, clause: Clause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    values = [v for v in clause.values if isinstance(v, QuantityValue)]
    if not values:
        return false()
    terms = [quantity_value(v) for v in values]
    cond = terms[0] if len(terms) == 1 else or_(*terms)
    return index_match(subject, Q, clause.param, cond, driver=driver)
