"""A :class:`~gateway.search.SearchRequest` → the SQL that lists its candidates.

``SELECT pk, <sort keys> FROM resource WHERE <type> AND NOT deleted AND <criteria>
[AND <after the position>] ORDER BY <keys>, pk LIMIT n``: candidates only, before
access filtering, which the repository applies to each of them.

The most selective criterion drives the query (see :mod:`.scope`): a compartment, an
``_id``, a reference to one resource, an identifier… down to dates and numbers.
Negative criteria (``:not``, ``:missing=true``) never drive; with no positive
criterion, the query walks the resource table in primary-key order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select

from gateway.search.query import (
    CareDateClause,
    ChainClause,
    Clause,
    Criterion,
    HasClause,
    ListClause,
    SearchRequest,
)
from gateway.storage import schema as s
from gateway.storage.search.care import care_date_predicate
from gateway.storage.search.clauses import COLUMN_PARAMS, clause_predicate
from gateway.storage.search.keyset import Position, SortColumn, beyond, order_by, sort_columns
from gateway.storage.search.links import (
    chain_predicate,
    compartment_predicate,
    has_predicate,
    list_predicate,
)
from gateway.storage.search.rows import VERSION_COLUMNS
from gateway.storage.search.scope import SqlContext, Subject, type_condition

_NEVER = 99
_TYPE_RANK = {
    "reference": 2,
    "token": 3,
    "uri": 3,
    "string": 4,
    "quantity": 6,
    "number": 6,
    "date": 7,
}


def rank(criterion: Criterion) -> int:
    """How well ``criterion`` drives a query: lower is more selective; 99 never drives."""
    if isinstance(criterion, ChainClause | HasClause):
        return 5
    if isinstance(criterion, ListClause):
        return 3
    if isinstance(criterion, CareDateClause):
        return _NEVER  # keeps undated resources: never selective
    if criterion.param == "_id":
        return 0 if criterion.modifier != "not" else _NEVER
    if criterion.param == "_lastUpdated":
        return 8
    if criterion.modifier == "not":
        return _NEVER
    if criterion.modifier == "missing":
        return _NEVER  # answered per candidate; never selective enough to drive
    if criterion.modifier == "contains":
        return 8
    if criterion.type == "token" and criterion.param in ("identifier", "_tag", "_security"):
        return 1 if criterion.param == "identifier" else 4
    return _TYPE_RANK.get(criterion.type, 6)


def criterion_predicate(
    subject: Subject, criterion: Criterion, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    if isinstance(criterion, ChainClause):
        return chain_predicate(subject, criterion, ctx, driver=driver)
    if isinstance(criterion, HasClause):
        return has_predicate(subject, criterion, ctx, driver=driver)
    if isinstance(criterion, ListClause):
        return list_predicate(subject, criterion, driver=driver)
    if isinstance(criterion, CareDateClause):
        return care_date_predicate(subject, criterion)
    assert isinstance(criterion, Clause)
    return clause_predicate(subject, criterion, ctx, driver=driver)


def drives_by_pk(criterion: Criterion) -> bool:
    """Whether ``criterion`` as the driver yields primary keys (``pk IN (…)``) rather than
    constraining the resource row itself (``_id``, ``_lastUpdated``, ``_has``, ``_list``)."""
    if isinstance(criterion, HasClause | ListClause | CareDateClause):
        return False
    if isinstance(criterion, ChainClause):
        return True
    return criterion.param not in COLUMN_PARAMS


def where_clause(
    request: SearchRequest, subject: Subject, ctx: SqlContext
) -> list[ColumnElement[bool]]:
    """The conditions of ``request`` on ``subject`` (its types, not deleted, criteria).

    When the driver yields primary keys of the right types already, the resource row
    gets no type condition: SQLite would otherwise scan the type's index instead of
    looking the keys up.
    """
    row = subject.row
    assert row is not None
    conds: list[ColumnElement[bool]] = [row.c.deleted.is_(False)]
    ranked = sorted(range(len(request.criteria)), key=lambda i: rank(request.criteria[i]))
    driver = ranked[0] if ranked and rank(request.criteria[ranked[0]]) < _NEVER else None
    if request.compartment is not None:
        conds.append(compartment_predicate(subject, request.compartment))
        driver = None
    elif driver is None or not drives_by_pk(request.criteria[driver]):
        conds[:0] = type_condition(row, subject.types)
    for index in ranked:
        criterion = request.criteria[index]
        conds.append(criterion_predicate(subject, criterion, ctx, driver=index == driver))
    return conds


def candidates_statement(
    request: SearchRequest,
    ctx: SqlContext,
    *,
    after: Position | None,
    limit: int,
    sort: bool = True,
) -> tuple[Select[Any], list[SortColumn]]:
    """The candidate query and its sort columns (``sort=False``: primary-key order only).

    It selects the current rows themselves (:data:`VERSION_COLUMNS`), then the sort
    values: with ``LIMIT``, both back-ends keep only the top rows while sorting.
    """
    row = s.resource
    subject = Subject(row.c.pk, _types(request), row)
    columns = sort_columns(request.sort, row, ctx) if sort else []
    conds = where_clause(request, subject, ctx)
    backwards = after.backwards if after is not None else False
    if after is not None:
        conds.append(beyond(columns, row.c.pk, after))
    stmt = (
        select(*VERSION_COLUMNS, *(c.expr.label(f"k{i}") for i, c in enumerate(columns)))
        .where(*conds)
        .order_by(*order_by(columns, row.c.pk, backwards=backwards))
        .limit(limit)
    )
    return stmt, columns


def _types(request: SearchRequest) -> tuple[str, ...]:
    if request.resource_type is not None:
        return (request.resource_type,)
    return tuple(request.types)
