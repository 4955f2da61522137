"""Batches for ``dmp-gateway reindex``: live resources in primary-key order, and the
replacement of their index rows.

Each batch runs in one writer transaction and locks its resource rows (PostgreSQL
``FOR UPDATE``; SQLite writers are serialised already), so a write of the same resource
waits for the batch, and the rows it leaves are those of the version it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from gateway.search.rows import IndexRows
from gateway.storage import schema as s
from gateway.storage.index_writer import delete_index_rows, insert_index_rows
from gateway.storage.store import StoreTx


def stored_types(tx: StoreTx) -> list[str]:
    """The resource types with at least one live resource, sorted."""
    r = s.resource
    rows = tx.conn.execute(select(r.c.resource_type).where(r.c.deleted.is_(False)).distinct()).all()
    return sorted(row.resource_type for row in rows)


def live_batch(tx: StoreTx, resource_type: str, after_pk: int, limit: int) -> list[int]:
    """Up to ``limit`` primary keys of live ``resource_type`` resources after ``after_pk``,
    locked until the transaction ends."""
    r = s.resource
    stmt = (
        select(r.c.pk)
        .where(r.c.resource_type == resource_type, r.c.pk > after_pk, r.c.deleted.is_(False))
        .order_by(r.c.pk)
        .limit(limit)
    )
    if tx.dialect == "postgresql":
        stmt = stmt.with_for_update()
    return [row.pk for row in tx.conn.execute(stmt).all()]


def replace_index_rows(tx: StoreTx, items: Sequence[tuple[int, str, IndexRows]]) -> None:
    """Drop the index rows of each resource, then write ``rows`` in their place."""
    delete_index_rows(tx.conn, [pk for pk, _, _ in items])
    insert_index_rows(tx.conn, items)


__all__ = ["live_batch", "replace_index_rows", "stored_types"]
