"""Writes and removes the search index rows of resources (one table per parameter type)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import String, Table, delete
from sqlalchemy.engine import Connection

from gateway.search.rows import IndexRows
from gateway.storage import schema as s
from gateway.storage.pg_bulk import MAX_VALUES_PARAMS, Part, copy_rows, insert_together

# Long values are cut before they reach a B-tree index (PostgreSQL refuses index entries
# over ~2.7 kB); prefix and equality matching on the first 512 characters stay exact.
MAX_INDEXED_CHARS = 512

_TABLES: tuple[tuple[str, Table], ...] = (
    ("tokens", s.idx_token),
    ("strings", s.idx_string),
    ("dates", s.idx_date),
    ("references", s.idx_reference),
    ("quantities", s.idx_quantity),
    ("numbers", s.idx_number),
    ("uris", s.idx_uri),
)


def _columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if c.name not in ("resource_pk", "resource_type"))


_FIELDS: dict[str, tuple[str, ...]] = {name: _columns(table) for name, table in _TABLES}


_GETTERS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    name: attrgetter(*fields) for name, fields in _FIELDS.items()
}
# The text columns whose values are cut (``exact`` keeps the whole value: it is matched
# by equality against the value as given, after a prefix match on ``norm``).
_CLIPPED: dict[str, tuple[int, ...]] = {
    name: tuple(
        i
        for i, key in enumerate(_FIELDS[name])
        if key != "exact" and isinstance(table.c[key].type, String)
    )
    for name, table in _TABLES
}


def _has_long(values: list[tuple[Any, ...]], positions: tuple[int, ...]) -> bool:
    """Whether one of ``values`` has a long text value at one of ``positions``."""
    for row in values:
        for i in positions:
            value = row[i]
            if value.__class__ is str and len(value) > MAX_INDEXED_CHARS:
                return True
    return False


def _clipped(values: tuple[Any, ...], positions: tuple[int, ...]) -> tuple[Any, ...]:
    """``values`` with its long text values at ``positions`` cut."""
    for i in positions:
        value = values[i]
        if value.__class__ is str and len(value) > MAX_INDEXED_CHARS:
            break
    else:
        return values
    cut = list(values)
    for i in positions:
        value = cut[i]
        if value.__class__ is str and len(value) > MAX_INDEXED_CHARS:
            cut[i] = value[:MAX_INDEXED_CHARS]
    return tuple(cut)


# One text per (table, driver) for the life of the process: built on every write before.
@functools.cache
def _insert_sql(table: Table, names: tuple[str, ...], paramstyle: str) -> str:
    marker = "?" if paramstyle == "qmark" else "%s"
    # Table and column names come from the schema module, never from input.
    columns = ("resource_pk", "resource_type", *names)
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(marker for _ in columns)})"
    )


def insert_index_rows(conn: Connection, items: Iterable[tuple[int | None, str, IndexRows]]) -> None:
    """Insert the index rows of each ``(resource_pk, resource_type, rows)``.

    Each row dataclass has the fields of its table's columns (plus at most a few the
    table lacks). The rows go to the driver as plain tuples in one ``executemany`` per
    table: on the hot path of every write, SQLAlchemy's per-row parameter processing
    cost more than the inserts themselves. On PostgreSQL, one multi-row ``VALUES`` or
    one ``COPY`` per table instead (:mod:`gateway.storage.pg_bulk`): psycopg's
    ``executemany`` sends and checks each row on its own.
    """
    batches: dict[str, list[tuple[Any, ...]]] = {name: [] for name, _ in _TABLES}
    for pk, rtype, rows in items:
        if pk is None:
            raise ValueError("index rows need the resource's primary key")
        key = (pk, rtype)
        for name, _table in _TABLES:
            found = getattr(rows, name)
            if not found:
                continue
            # Long values are rare: one scan of the resource's rows for them, and the
            # row-by-row cut only when there is one (a tenth of this loop's time before).
            values = list(map(_GETTERS[name], found))
            positions = _CLIPPED[name]
            if _has_long(values, positions):
                values = [_clipped(v, positions) for v in values]
            batches[name].extend([key + v for v in values])
    if conn.dialect.name == "postgresql":
        # A few rows per table (one write's): all tables in one statement; more: COPY.
        few: list[Part] = []
        for name, table in _TABLES:
            batch = batches[name]
            if batch:
                columns = ("resource_pk", "resource_type", *_FIELDS[name])
                if len(batch) * len(columns) <= MAX_VALUES_PARAMS:
                    few.append((table, columns, batch))
                else:
                    copy_rows(conn, table, columns, batch)
        insert_together(conn, few)
        return
    style = conn.dialect.paramstyle
    for name, table in _TABLES:
        if batches[name]:
            conn.exec_driver_sql(_insert_sql(table, _FIELDS[name], style), batches[name])


def delete_index_rows(conn: Connection, pks: Sequence[int]) -> None:
    if not pks:
        return
    for _name, table in _TABLES:
        conn.execute(delete(table).where(table.c.resource_pk.in_(pks)))
