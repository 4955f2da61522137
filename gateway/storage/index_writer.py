"""Writes and removes the search index rows of resources (one table per parameter type)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, delete, insert
from sqlalchemy.engine import Connection

from gateway.search.rows import IndexRows
from gateway.storage import schema as s

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


def _clip(value: Any, key: str) -> Any:
    if value.__class__ is str and len(value) > MAX_INDEXED_CHARS and key != "exact":
        return value[:MAX_INDEXED_CHARS]
    return value


def insert_index_rows(conn: Connection, items: Iterable[tuple[int | None, str, IndexRows]]) -> None:
    """Insert the index rows of each ``(resource_pk, resource_type, rows)``.

    Each row dataclass has the fields of its table's columns (plus at most a few the
    table lacks); rows are read field by field, which is several times faster than
    :func:`dataclasses.asdict` on the hot path of every write.
    """
    batches: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in _TABLES}
    for pk, rtype, rows in items:
        if pk is None:
            raise ValueError("index rows need the resource's primary key")
        for name, _table in _TABLES:
            found = getattr(rows, name)
            if not found:
                continue
            names = _FIELDS[name]
            batch = batches[name]
            for row in found:
                values = {key: _clip(getattr(row, key), key) for key in names}
                values["resource_pk"] = pk
                values["resource_type"] = rtype
                batch.append(values)
    for name, table in _TABLES:
        if batches[name]:
            conn.execute(insert(table), batches[name])


def delete_index_rows(conn: Connection, pks: Sequence[int]) -> None:
    if not pks:
        return
    for _name, table in _TABLES:
        conn.execute(delete(table).where(table.c.resource_pk.in_(pks)))
