"""What a compiled search predicate applies to, and the request facts it needs.

A predicate is always about *some* resources: the resources searched, the targets of
a chain, or the sources of a ``_has``. :class:`Subject` names them by their primary
key column, the resource row when it is joined (for ``_id`` and ``_lastUpdated``,
which live in the resource table) and the resource types in scope.

``driver`` picks the SQL shape. One criterion per query *drives* it as
``pk IN (SELECT resource_pk FROM idx_… WHERE …)``, an uncorrelated set that both
SQLite and PostgreSQL compute once; every other criterion is a correlated
``EXISTS (… WHERE resource_pk = pk …)`` probe, cheap per candidate through the
``resource_pk`` index. SQLite does not turn one shape into the other by itself, so
choosing the selective criterion as the driver is what keeps patient-scoped searches
in the millisecond range there (see :mod:`gateway.storage.search.clauses`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, FromClause, Select, Table, and_, exists

from gateway.storage.index_writer import MAX_INDEXED_CHARS


@dataclass(frozen=True, slots=True)
class Subject:
    pk: ColumnElement[int]
    types: tuple[str, ...]  # empty: any type
    row: FromClause | None = None  # the ``resource`` table or an alias of it


@dataclass(frozen=True, slots=True)
class SqlContext:
    """``base``: this server's FHIR base (absolute references under it are local);
    ``now``: the instant ``ap`` measures its tolerance from (µs since the epoch)."""

    dialect: str
    base: str
    now: int

    def is_local(self, url: str) -> bool:
        return bool(self.base) and url.startswith(self.base.rstrip("/") + "/")

    def ordered(self, expr: ColumnElement[str]) -> ColumnElement[str]:
        """Byte order for text, the same on both back-ends (PostgreSQL ``COLLATE "C"``)."""
        return expr.collate("C") if self.dialect == "postgresql" else expr


def clip(value: str) -> str:
    """Stored index values are cut at :data:`MAX_INDEXED_CHARS`; so are compared ones."""
    return value[:MAX_INDEXED_CHARS]


def type_condition(table: Table | FromClause, types: tuple[str, ...]) -> list[ColumnElement[bool]]:
    if not types:
        return []
    if len(types) == 1:
        return [table.c.resource_type == types[0]]
    return [table.c.resource_type.in_(types)]


def index_match(
    subject: Subject,
    table: Table | FromClause,
    params: str | tuple[str, ...],
    condition: ColumnElement[bool] | None,
    *,
    driver: bool,
) -> ColumnElement[bool]:
    """Some row of ``table`` for ``params`` of the subject satisfies ``condition``."""
    param = table.c.param == params if isinstance(params, str) else table.c.param.in_(params)
    conds = [param] if condition is None else [param, condition]
    if driver:
        sub: Select[tuple[int]] = (
            table.select()
            .with_only_columns(table.c.resource_pk)
            .where(*type_condition(table, subject.types), *conds)
        )
        return subject.pk.in_(sub)
    return exists().where(table.c.resource_pk == subject.pk, *conds)


def no_index_match(
    subject: Subject,
    table: Table | FromClause,
    params: str | tuple[str, ...],
    condition: ColumnElement[bool] | None,
) -> ColumnElement[bool]:
    """No row of ``table`` for ``params`` of the subject satisfies ``condition``."""
    param = table.c.param == params if isinstance(params, str) else table.c.param.in_(params)
    conds = [param] if condition is None else [param, condition]
    return ~exists().where(table.c.resource_pk == subject.pk, *conds)


def all_of(conds: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return conds[0] if len(conds) == 1 else and_(*conds)
