"""The audit log's head row: the single sequencer every appender queues on.

``audit_head`` has one row (``id = 1``): the tree size, the peak hashes of the tree
(its frontier, :class:`gateway.audit.tree.Frontier`, 32 bytes per set bit of the
size) and the size and time of the last checkpoint. An appender locks the row
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the writer already holds the
database lock from ``BEGIN IMMEDIATE``), reads the frontier, appends, writes the row
back and commits. Every worker and process therefore sees the committed frontier, and
two appenders can never take the same sequence number or fork the tree.

The row is created on first use (``INSERT … ON CONFLICT DO NOTHING``, so concurrent
first appenders agree).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from gateway.audit.merkle import HASH_SIZE
from gateway.audit.tree import Frontier
from gateway.storage import schema as s
from gateway.storage.audit_errors import AuditIntegrityError
from gateway.storage.dialect_insert import insert_ignore

HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class Head:
    """The committed state of the log, as the sequencer sees it."""

    frontier: Frontier
    checkpoint_size: int = 0
    checkpoint_time: int = 0  # microseconds since the Unix epoch; 0: never

    @property
    def size(self) -> int:
        return self.frontier.size


_h = s.audit_head
# Built once: SQLAlchemy then reuses their compiled form (every append runs them).
_SELECT = select(_h.c.size, _h.c.peaks, _h.c.checkpoint_size, _h.c.checkpoint_time).where(
    _h.c.id == HEAD_ID
)
_SELECT_FOR_UPDATE = _SELECT.with_for_update()
_UPDATE = update(_h).where(_h.c.id == HEAD_ID)


def read_head(conn: Connection, *, lock: bool) -> Head:
    """The head; with ``lock``, held until the transaction ends (the sequencer lock)."""
    row = conn.execute(_SELECT_FOR_UPDATE if lock else _SELECT).first()
    if row is None:
        if not lock:
            return Head(Frontier())
        insert_ignore(
            conn,
            s.audit_head,
            [{"id": HEAD_ID, "size": 0, "peaks": b"", "checkpoint_size": 0, "checkpoint_time": 0}],
        )
        row = conn.execute(_SELECT_FOR_UPDATE).one()
    peaks = bytes(row.peaks)
    try:
        frontier = Frontier(
            row.size, tuple(peaks[i : i + HASH_SIZE] for i in range(0, len(peaks), HASH_SIZE))
        )
    except ValueError:
        raise AuditIntegrityError(
            "The audit log head is corrupt; an operator must verify the log"
        ) from None
    return Head(frontier, row.checkpoint_size, row.checkpoint_time)


def write_head(conn: Connection, head: Head) -> None:
    conn.execute(
        _UPDATE,
        {
            "size": head.size,
            "peaks": b"".join(head.frontier.peak_hashes),
            "checkpoint_size": head.checkpoint_size,
            "checkpoint_time": head.checkpoint_time,
        },
    )
