"""Sorting and keyset paging (https://hl7.org/fhir/R4/search.html#sort).

Every search is ordered: by its ``_sort`` keys, then by the resource's primary key, so
the order is total and stable. A page continues *after* the last resource of the
previous page (or *before* the first one, for ``prev``), compared on the same keys:
never an ``OFFSET``, so a page costs the same at any depth, and a resource written
while a client pages can neither be returned twice nor push another one out of sight.

A resource with several values sorts by its lowest value ascending and its highest
descending (for dates: the lower bound of its earliest range, the upper bound of its
latest). Resources without a value sort last in both directions. Text sorts by code
point on both back-ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, false, func, or_, select
from sqlalchemy.sql.elements import UnaryExpression

from gateway.search.query import SortKey
from gateway.storage import schema as s
from gateway.storage.search.scope import SqlContext

SortValue = int | float | str | None


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a result order: the sort values and primary key of one resource.

    ``backwards``: the page wanted is the one *before* this place (a ``prev`` link).
    """

    keys: tuple[SortValue, ...]
    pk: int
    backwards: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"k": list(self.keys), "pk": self.pk, "b": self.backwards}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Position:
        """The position in a (signed) cursor; ``ValueError`` when it is not one."""
        keys, pk, back = data.get("k"), data.get("pk"), data.get("b", False)
        if not isinstance(keys, list) or not isinstance(pk, int) or not isinstance(back, bool):
            raise ValueError("not a search position")
        if not all(k is None or isinstance(k, int | float | str) for k in keys):
            raise ValueError("not a search position")
        return cls(tuple(keys), pk, back)


@dataclass(frozen=True, slots=True)
class SortColumn:
    expr: ColumnElement[Any]
    descending: bool


def sort_columns(keys: Sequence[SortKey], row: FromClause, ctx: SqlContext) -> list[SortColumn]:
    return [SortColumn(_sort_expr(k, row, ctx), k.descending) for k in keys]


def _sort_expr(key: SortKey, row: FromClause, ctx: SqlContext) -> ColumnElement[Any]:
    if key.param == "_id":
        return ctx.ordered(row.c.id)
    if key.param == "_lastUpdated":
        return row.c.last_updated
    pick = func.max if key.descending else func.min
    conds: list[ColumnElement[bool]] = []
    if key.type == "date":
        table = s.idx_date
        value: ColumnElement[Any] = table.c.high if key.descending else table.c.low
    elif key.type in ("number", "quantity"):
        table = s.idx_number if key.type == "number" else s.idx_quantity
        value = table.c.value
        if key.type == "quantity":
            conds.append(table.c.canonical.is_(False))
    elif key.type == "string":
        table = s.idx_string
        value = ctx.ordered(table.c.norm)
    elif key.type == "token":
        table = s.idx_token
        value = ctx.ordered(table.c.code)
    elif key.type == "reference":
        table = s.idx_reference
        value = ctx.ordered(func.coalesce(table.c.target_id, table.c.url))
    else:
        table = s.idx_uri
        value = ctx.ordered(table.c.uri)
    return (
        select(pick(value))
        .where(table.c.resource_pk == row.c.pk, table.c.param == key.param, *conds)
        .scalar_subquery()
    )


def order_by(
    columns: Sequence[SortColumn], pk: ColumnElement[int], *, backwards: bool
) -> list[UnaryExpression[Any]]:
    """Missing values last, the keys in their direction, then the primary key.

    ``backwards`` reverses the whole order (to read the page before a position).
    """
    out: list[UnaryExpression[Any]] = []
    for c in columns:
        down = c.descending != backwards
        ordered = c.expr.desc() if down else c.expr.asc()
        out.append(ordered.nulls_first() if backwards else ordered.nulls_last())
    out.append(pk.desc() if backwards else pk.asc())
    return out


def beyond(
    columns: Sequence[SortColumn], pk: ColumnElement[int], position: Position
) -> ColumnElement[bool]:
    """Rows strictly after ``position`` in the order (before it when ``backwards``)."""
    if len(position.keys) != len(columns):
        raise ValueError("the position does not fit this search's sort keys")
    back = position.backwards
    options: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for c, value in zip(columns, position.keys, strict=True):
        if value is None:
            # Missing values come last: after them only other missing values;
            # before them every present value.
            if back:
                options.append(and_(*equal, c.expr.is_not(None)))
            equal.append(c.expr.is_(None))
            continue
        later = c.expr < value if c.descending else c.expr > value
        earlier = c.expr > value if c.descending else c.expr < value
        step = earlier if back else or_(later, c.expr.is_(None))
        options.append(and_(*equal, step))
        equal.append(c.expr == value)
    options.append(and_(*equal, pk < position.pk if back else pk > position.pk))
    return or_(*options) if options else false()
