"""Rows of the ``resource`` and ``history`` tables as :class:`StoredVersion` values.

The columns every reader selects, and the converters that open (decrypt) a row's
content: :func:`current_version` and :func:`historic_version` for the store's own
reads, :func:`bulk_version` for the bulk readers (change feed, export, patient index),
where an erased (crypto-shredded) version reads as a deletion instead of failing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, Row

from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.sealing import open_resource, open_resource_or_none

CURRENT_COLUMNS = (
    s.resource.c.pk,
    s.resource.c.resource_type,
    s.resource.c.id,
    s.resource.c.version,
    s.resource.c.last_updated,
    s.resource.c.deleted,
    s.resource.c.content,
    s.resource.c.patient_id,
    s.resource.c.author,
    s.resource.c.author_structure,
    s.resource.c.created,
)
HISTORY_COLUMNS = (
    s.history.c.seq,
    s.history.c.resource_type,
    s.history.c.id,
    s.history.c.version,
    s.history.c.last_updated,
    s.history.c.deleted,
    s.history.c.content,
    s.history.c.patient_id,
    s.history.c.method,
    s.history.c.author,
    s.history.c.author_structure,
    s.history.c.created,
)


def _version(
    row: Row[Any, *tuple[Any, ...]],
    content: bytes | None,
    deleted: bool,
    pk: int | None,
    seq: int | None,
    method: str | None,
) -> StoredVersion:
    """The fields every row has, with those that depend on the table or the reader."""
    return StoredVersion(
        resource_type=row.resource_type,
        id=row.id,
        version=row.version,
        last_updated=row.last_updated,
        deleted=deleted,
        content=content,
        patient_id=row.patient_id,
        pk=pk,
        seq=seq,
        method=method,
        author=row.author,
        author_structure=row.author_structure,
        created=row.created,
    )


def _opened(row: Row[Any, *tuple[Any, ...]], conn: Connection) -> bytes | None:
    return open_resource(conn, row.resource_type, row.id, row.version, row.patient_id, row.content)


def current_version(row: Row[Any, *tuple[Any, ...]], conn: Connection) -> StoredVersion:
    """A current row as a version, its content opened (decrypted)."""
    return _version(row, _opened(row, conn), bool(row.deleted), row.pk, None, None)


def historic_version(row: Row[Any, *tuple[Any, ...]], conn: Connection) -> StoredVersion:
    """A history row as a version, its content opened (decrypted)."""
    return _version(row, _opened(row, conn), bool(row.deleted), None, row.seq, row.method)


def bulk_version(row: Row[Any, *tuple[Any, ...]], conn: Connection) -> StoredVersion:
    """A current or history row for a bulk reader (change feed, export, patient index):
    an erased (crypto-shredded) version reads as a deletion instead of failing."""
    content, erased = open_resource_or_none(
        conn, row.resource_type, row.id, row.version, row.patient_id, row.content
    )
    fields = row._mapping
    deleted = bool(row.deleted) or erased
    return _version(
        row, content, deleted, fields.get("pk"), fields.get("seq"), fields.get("method")
    )
