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


# Driver SQL, not Core: every append reads and writes the head, and a plain string
# skips the compiled-statement lookup and bind processing (it costs about a third of
# the client CPU of the Core statement). The columns are those of schema.audit_head;
# id = 1 is HEAD_ID.
_SELECT = "SELECT size, peaks, checkpoint_size, checkpoint_time FROM audit_head WHERE id = 1"
_UPDATE = (
    "UPDATE audit_head SET size = {0}, peaks = {0}, checkpoint_size = {0}, "
    "checkpoint_time = {0} WHERE id = 1"
)


def _select(lock: bool, dialect: str) -> str:
    # SQLite has no row locks: the writer holds the database lock (BEGIN IMMEDIATE).
    return _SELECT + " FOR UPDATE" if lock and dialect != "sqlite" else _SELECT


def read_head(conn: Connection, *, lock: bool) -> Head:
    """The head; with ``lock``, held until the transaction ends (the sequencer lock)."""
    row = conn.exec_driver_sql(_select(lock, conn.dialect.name)).first()
    if row is None:
        if not lock:
            return Head(Frontier())
        insert_ignore(
            conn,
            s.audit_head,
            [{"id": HEAD_ID, "size": 0, "peaks": b"", "checkpoint_size": 0, "checkpoint_time": 0}],
        )
        row = conn.exec_driver_sql(_select(lock, conn.dialect.name)).one()
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
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        _UPDATE.format(marker),
        (
            head.size,
            b"".join(head.frontier.peak_hashes),
            head.checkpoint_size,
            head.checkpoint_time,
        ),
    )
