"""Reading the audit log back: exports, the offline verifier's input, a patient's trail.

Reads never lock. They stop at the committed head size read when they start, so a
long export is a consistent prefix of the log even while appends go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, select
from sqlalchemy.engine import Connection

from gateway.audit.verifier import Entry, format_export_line
from gateway.storage import read_ahead
from gateway.storage import schema as s
from gateway.storage.audit_head import read_head
from gateway.storage.sealing import AuditOpener, open_audit

_e = s.audit_entry
_AHEAD_BATCH = 1000  # rows per fetch on SQLite (between two read-ahead calls)


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which entries an export holds; all of them when every field is None.

    ``since`` and ``until`` bound ``recorded`` (microseconds, ``[since, until)``).
    """

    agent: str | None = None
    since: int | None = None
    until: int | None = None

    @property
    def everything(self) -> bool:
        return self.agent is None and self.since is None and self.until is None


def export_lines(engine: Engine, which: ExportFilter, *, batch: int = 2000) -> Iterator[bytes]:
    """NDJSON lines (:func:`gateway.audit.verifier.format_export_line`, stored leaf included).

    One short read transaction per batch, paged by sequence number. Unfiltered, the
    lines are the whole log from seq 0, which ``dmp-gateway audit verify --export``
    checks against the checkpoints.
    """
    with engine.connect() as conn:
        upto = read_head(conn, lock=False).size
    conds = [_e.c.seq < upto]
    if which.agent is not None:
        conds.append(_e.c.agent == which.agent)
    if which.since is not None:
        conds.append(_e.c.recorded >= which.since)
    if which.until is not None:
        conds.append(_e.c.recorded < which.until)
    after = -1
    while True:
        stmt = (
            select(_e.c.seq, _e.c.content, _e.c.leaf)
            .where(and_(_e.c.seq > after, *conds))
            .order_by(_e.c.seq)
            .limit(batch)
        )
        with engine.connect() as conn:
            rows = [(q, open_audit(conn, q, c), lf) for q, c, lf in conn.execute(stmt).all()]
        for seq, content, leaf in rows:
            yield format_export_line(seq, content, bytes(leaf))
        if len(rows) < batch:
            return
        after = rows[-1][0]


def stored_entries(conn: Connection, *, batch: int = 10_000) -> Iterator[Entry]:
    """Every stored entry ``(seq, bytes, stored leaf hash)`` in sequence order.

    Reads through the driver's own cursor (server-side on PostgreSQL), so memory stays
    flat and a million entries cost little more than the database's scan: the
    verifier's speed is this loop's speed.

    On SQLite the kernel is told ahead of the scan which parts of the file it will read
    (:mod:`gateway.storage.read_ahead`), and the file is read through a memory map: a
    cold log is read at the disk's speed instead of page by page on demand.
    """
    opened = AuditOpener(conn)
    dbapi: Any = conn.connection.dbapi_connection
    scan: AbstractContextManager[read_ahead.ReadAhead | None]
    if conn.dialect.name == "postgresql":
        cursor = dbapi.cursor(name="audit_entries")  # server-side
        fetch, scan = batch, nullcontext(None)
    else:
        last = conn.exec_driver_sql("SELECT max(seq) FROM audit_entry").scalar()
        scan = read_ahead.sqlite_scan(conn, 0 if last is None else last + 1)
        cursor = dbapi.cursor()
        fetch = _AHEAD_BATCH
    with scan as ahead:
        try:
            cursor.execute("SELECT seq, content, leaf FROM audit_entry ORDER BY seq")
            done = 0
            while rows := cursor.fetchmany(fetch):
                # An entry that fails its integrity check is passed on as stored, so
                # the verifier reports (and locates) a leaf mismatch.
                yield from opened.rows(rows)
                if ahead is not None:
                    done += len(rows)
                    ahead.at(done)
        finally:
            cursor.close()


def patient_entries(
    conn: Connection, patient_id: str, *, upto: int, before: int | None, limit: int
) -> list[tuple[int, bytes]]:
    """The REST events that name ``patient_id``, newest first, below ``before``/``upto``."""
    p = s.audit_patient
    conds = [p.c.patient_id == patient_id, p.c.seq < upto, _e.c.event_type == "rest"]
    if before is not None:
        conds.append(p.c.seq < before)
    stmt = (
        select(_e.c.seq, _e.c.content)
        .select_from(p.join(_e, _e.c.seq == p.c.seq))
        .where(and_(*conds))
        .order_by(p.c.seq.desc())
        .limit(limit)
    )
    return [(seq, open_audit(conn, seq, content)) for seq, content in conn.execute(stmt)]
