"""The rows an append inserts (``audit_entry``, ``audit_patient``, ``audit_node``).

Every request and every ingested message appends, so these inserts run more often
than any other SQL. They are driver SQL (plain strings, positional parameters, through
:meth:`~sqlalchemy.engine.Connection.exec_driver_sql`), not Core ``insert()``: that
skips the compiled-statement lookup and the bind processing, about two thirds of the
client CPU of each statement, while SQLAlchemy still wraps the driver's errors and
owns the transaction. Their values need no bind processing: integers, strings, bytes.
The column names are those of :mod:`gateway.storage.schema`, never input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from gateway.audit.entries import LogEntry
from gateway.audit.tree import Node

EntryRow = tuple[Any, ...]

_ENTRY_COLUMNS = (
    *("seq", "recorded", "event_type", "interaction", "action", "outcome", "purpose"),
    *("agent", "client", "structure", "content", "leaf"),
)


def _insert(table: str, columns: Sequence[str], marker: str) -> str:
    values = ", ".join(marker for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608


_SQL = {
    style: (
        _insert("audit_entry", _ENTRY_COLUMNS, marker),
        _insert("audit_patient", ("patient_id", "seq"), marker),
        _insert("audit_node", Node._fields, marker),
    )
    for style, marker in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))
}


def entry_row(seq: int, entry: LogEntry, leaf: bytes, stored: bytes) -> EntryRow:
    """The row of one entry, in the order of ``_ENTRY_COLUMNS``; ``stored`` is its
    content as stored (sealed under the log's key when encryption is on; the leaf hash
    is over the plaintext either way)."""
    return (
        *(seq, entry.recorded, entry.event_type, entry.interaction, entry.action),
        *(entry.outcome, entry.purpose, entry.agent, entry.client, entry.structure),
        *(stored, leaf),
    )


def insert_rows(
    conn: Connection,
    entries: list[EntryRow],
    patients: list[tuple[str, int]],
    nodes: list[Node],
) -> None:
    """Insert the rows of an append (``entries`` and ``nodes`` are never empty)."""
    entry_sql, patient_sql, node_sql = _SQL[conn.dialect.paramstyle]
    conn.exec_driver_sql(entry_sql, entries)
    if patients:
        conn.exec_driver_sql(patient_sql, patients)
    conn.exec_driver_sql(node_sql, nodes)
