"""One plain criterion (``param[:modifier]=v1,v2``) → a SQL predicate on its subject.

The parameter's type picks the index table; ``:missing`` asks whether the resource has
any row for the parameter at all. ``_id`` and ``_lastUpdated`` are answered from the
resource table (the indexer does not duplicate them into index rows).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, FromClause, Table, and_, false, not_, or_, select, true

from gateway.search.query import Clause, DateValue, MissingValue, TokenValue
from gateway.storage import schema as s
from gateway.storage.search.ranges import (
    date_clause,
    date_condition,
    number_clause,
    quantity_clause,
)
from gateway.storage.search.references import reference_clause
from gateway.storage.search.scope import (
    SqlContext,
    Subject,
    index_match,
    no_index_match,
    type_condition,
)
from gateway.storage.search.strings import string_clause, uri_clause
from gateway.storage.search.tokens import token_clause

Compiler = Callable[[Subject, Clause, SqlContext], ColumnElement[bool]]

TABLES: dict[str, Table] = {
    "token": s.idx_token,
    "string": s.idx_string,
    "date": s.idx_date,
    "reference": s.idx_reference,
    "quantity": s.idx_quantity,
    "number": s.idx_number,
    "uri": s.idx_uri,
}
_BY_TYPE = {
    "token": token_clause,
    "string": string_clause,
    "date": date_clause,
    "reference": reference_clause,
    "quantity": quantity_clause,
    "number": number_clause,
    "uri": uri_clause,
}
COLUMN_PARAMS = frozenset({"_id", "_lastUpdated"})


def clause_predicate(
    subject: Subject, clause: Clause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    if clause.param in COLUMN_PARAMS:
        return _on_resource_row(subject, clause, ctx)
    if clause.modifier == "missing":
        missing = [v for v in clause.values if isinstance(v, MissingValue)]
        table = TABLES[clause.type]
        wanted = {v.missing for v in missing}
        if wanted == {True, False}:
            return true()
        if clause.type == "reference":
            # A Reference with only an identifier is a value too (idx_token rows).
            absent = and_(
                no_index_match(subject, table, clause.param, None),
                no_index_match(subject, s.idx_token, clause.param + ":identifier", None),
            )
            return absent if True in wanted else not_(absent)
        if True in wanted:
            return no_index_match(subject, table, clause.param, None)
        return index_match(subject, table, clause.param, None, driver=driver)
    return _BY_TYPE[clause.type](subject, clause, ctx, driver=driver)


def _on_resource_row(subject: Subject, clause: Clause, ctx: SqlContext) -> ColumnElement[bool]:
    row: FromClause = subject.row if subject.row is not None else s.resource.alias("own")
    cond = _column_condition(row, clause, ctx)
    if subject.row is not None:
        return cond
    return subject.pk.in_(select(row.c.pk).where(*type_condition(row, subject.types), cond))


def _column_condition(row: FromClause, clause: Clause, ctx: SqlContext) -> ColumnElement[bool]:
    if clause.modifier == "missing":
        # Every stored resource has an id and a lastUpdated.
        return or_(
            *(
                false() if v.missing else true()
                for v in clause.values
                if isinstance(v, MissingValue)
            )
        )
    if clause.param == "_lastUpdated":
        low, high = row.c.last_updated, row.c.last_updated + 1
        terms = [
            date_condition(v.prefix, v.low, v.high, low, high, ctx.now)
            for v in clause.values
            if isinstance(v, DateValue)
        ]
        return terms[0] if len(terms) == 1 else or_(*terms)
    ids = [
        v.code
        for v in clause.values
        if isinstance(v, TokenValue) and v.code is not None and v.system in (None, "")
    ]
    match = row.c.id.in_(ids) if ids else false()
    return not_(match) if clause.modifier == "not" else match
