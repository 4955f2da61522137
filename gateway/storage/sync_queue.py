"""SQL for the sync worker's durable state: feed checkpoints with leases, the rest-hook
delivery queue, patient notices and document announcements (tables in
:mod:`gateway.storage.schema`, issue 8).

Jobs are claimed by pushing their due time past a lease (a visibility timeout): a worker
that dies mid-job leaves it to be claimed again when the lease ends. Claims lock with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers never block on one another;
SQLite serialises them with ``BEGIN IMMEDIATE`` (the store's writer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Table, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx
from gateway.storage.version_rows import CURRENT_COLUMNS, bulk_version


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """Insert ``rows``; a row whose ``keys`` already exist is silently skipped."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))


# -- checkpoints ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    name: str
    position: str  # JSON of a gateway.storage.changes.FeedPosition
    holder: str | None
    lease_until: int


def take_checkpoint(
    tx: StoreTx, name: str, *, holder: str, now: int, lease_us: int, initial: str
) -> Checkpoint | None:
    """Lease the checkpoint ``name`` to ``holder`` (created at ``initial`` if new); None
    while another holder's lease runs. Call in a writer transaction."""
    c = s.sync_checkpoint
    insert_ignoring_duplicates(
        tx.conn,
        c,
        [{"name": name, "position": initial, "holder": None, "lease_until": 0}],
        ["name"],
    )
    row = tx.conn.execute(select(c).where(c.c.name == name).with_for_update()).one()
    if row.holder not in (None, holder) and row.lease_until > now:
        return None
    tx.conn.execute(
        update(c).where(c.c.name == name).values(holder=holder, lease_until=now + lease_us)
    )
    return Checkpoint(name, row.position, holder, now + lease_us)


def move_checkpoint(tx: StoreTx, name: str, *, holder: str, expected: str, position: str) -> bool:
    """Compare-and-set: advance ``name`` from ``expected`` if ``holder`` still holds it."""
    c = s.sync_checkpoint
    result = tx.conn.execute(
        update(c)
        .where(c.c.name == name, c.c.position == expected, c.c.holder == holder)
        .values(position=position)
    )
    return result.rowcount == 1


def checkpoint_row(tx: StoreTx, name: str) -> Checkpoint | None:
    c = s.sync_checkpoint
    row = tx.conn.execute(select(c).where(c.c.name == name)).first()
    return None if row is None else Checkpoint(row.name, row.position, row.holder, row.lease_until)


def release_checkpoint(tx: StoreTx, name: str, *, holder: str) -> None:
    c = s.sync_checkpoint
    tx.conn.execute(
        update(c).where(c.c.name == name, c.c.holder == holder).values(holder=None, lease_until=0)
    )


# -- rest-hook deliveries -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    pk: int
    subscription_id: str
    event_id: str
    resource_type: str
    resource_id: str
    version: int
    created: int
    due: int
    attempts: int
    state: str
    last_error: str | None


def _delivery(row: Any) -> Delivery:
    return Delivery(**{f.name: getattr(row, f.name) for f in fields(Delivery)})


def enqueue_deliveries(tx: StoreTx, rows: Iterable[Mapping[str, Any]], *, now: int) -> None:
    """New pending deliveries; one per (subscription, event) ever: duplicates are dropped."""
    full = [{**row, "created": now, "due": now, "attempts": 0, "state": "pending"} for row in rows]
    insert_ignoring_duplicates(tx.conn, s.sync_delivery, full, ["subscription_id", "event_id"])


def any_due(tx: StoreTx, *, now: int) -> bool:
    """Is a delivery due? (a read, so idle workers do not take the write lock)"""
    d = s.sync_delivery
    found = tx.conn.execute(
        select(d.c.pk).where(d.c.state == "pending", d.c.due <= now).limit(1)
    ).first()
    return found is not None


def claim_deliveries(tx: StoreTx, *, now: int, lease_us: int, limit: int) -> list[Delivery]:
    """Due pending deliveries, leased to the caller until ``now + lease_us``."""
    d = s.sync_delivery
    pks = list(
        tx.conn.execute(
            select(d.c.pk)
            .where(d.c.state == "pending", d.c.due <= now)
            .order_by(d.c.due, d.c.pk)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not pks:
        return []
    tx.conn.execute(update(d).where(d.c.pk.in_(pks)).values(due=now + lease_us))
    rows = tx.conn.execute(select(d).where(d.c.pk.in_(pks)).order_by(d.c.pk)).all()
    return [_delivery(r) for r in rows]


def settle_delivery(
    tx: StoreTx,
    pk: int,
    *,
    state: str,
    attempts: int,
    due: int,
    error: str | None,
    now: int,
) -> None:
    """Record an attempt: ``delivered``, ``pending`` again at ``due``, ``dead`` or ``dropped``."""
    d = s.sync_delivery
    finished = None if state == "pending" else now
    tx.conn.execute(
        update(d)
        .where(d.c.pk == pk)
        .values(state=state, attempts=attempts, due=due, last_error=error, finished=finished)
    )


def drop_pending(tx: StoreTx, subscription_id: str, *, reason: str, now: int) -> int:
    """Give up every pending delivery of one subscription (it is in error or gone)."""
    d = s.sync_delivery
    result = tx.conn.execute(
        update(d)
        .where(d.c.subscription_id == subscription_id, d.c.state == "pending")
        .values(state="dropped", last_error=reason, finished=now)
    )
    return int(result.rowcount or 0)


def deliveries_of(tx: StoreTx, subscription_id: str) -> list[Delivery]:
    d = s.sync_delivery
    rows = tx.conn.execute(
        select(d).where(d.c.subscription_id == subscription_id).order_by(d.c.pk)
    ).all()
    return [_delivery(r) for r in rows]


# -- patient notices and announcements -----------------------------------------------------


def notice_sent(tx: StoreTx, notice_id: str) -> bool:
    n = s.sync_notice
    sent = tx.conn.execute(select(n.c.sent).where(n.c.id == notice_id)).first()
    return sent is not None and sent[0] is not None


def record_notice_sent(
    tx: StoreTx, notice_id: str, *, kind: str, patient_id: str | None, now: int
) -> None:
    n = s.sync_notice
    insert_ignoring_duplicates(
        tx.conn,
        n,
        [{"id": notice_id, "kind": kind, "patient_id": patient_id, "created": now, "sent": now}],
        ["id"],
    )
    tx.conn.execute(update(n).where(n.c.id == notice_id, n.c.sent.is_(None)).values(sent=now))


@dataclass(frozen=True, slots=True)
class Announcement:
    resource_type: str
    resource_id: str
    patient_id: str
    due: int
    state: str


def schedule_announcements(tx: StoreTx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Documents to announce (``resource_type``, ``resource_id``, ``patient_id``, ``due``);
    a document already scheduled keeps its first due time."""
    full = [{**row, "state": "scheduled", "queued_at": None} for row in rows]
    insert_ignoring_duplicates(tx.conn, s.sync_announcement, full, ["resource_type", "resource_id"])


def any_announcement_due(tx: StoreTx, *, now: int, requeue_before: int) -> bool:
    a = s.sync_announcement
    found = tx.conn.execute(
        select(a.c.resource_id)
        .where(
            a.c.due <= now,
            (a.c.state == "scheduled")
            | and_(a.c.state == "queued", a.c.queued_at < requeue_before),
        )
        .limit(1)
    ).first()
    return found is not None


def due_announcements(
    tx: StoreTx, *, now: int, requeue_before: int, limit: int
) -> list[Announcement]:
    """Scheduled announcements now due, and queued ones not confirmed since
    ``requeue_before`` (their notice may have been lost with the bus)."""
    a = s.sync_announcement
    rows = tx.conn.execute(
        select(a)
        .where(
            a.c.due <= now,
            (a.c.state == "scheduled")
            | and_(a.c.state == "queued", a.c.queued_at < requeue_before),
        )
        .order_by(a.c.due)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [
        Announcement(r.resource_type, r.resource_id, r.patient_id, r.due, r.state) for r in rows
    ]


def mark_announcement(
    tx: StoreTx, resource_type: str, resource_id: str, *, state: str, now: int
) -> None:
    a = s.sync_announcement
    tx.conn.execute(
        update(a)
        .where(a.c.resource_type == resource_type, a.c.resource_id == resource_id)
        .values(state=state, queued_at=now)
    )


def forget_announcement(tx: StoreTx, resource_type: str, resource_id: str) -> None:
    a = s.sync_announcement
    tx.conn.execute(
        delete(a).where(a.c.resource_type == resource_type, a.c.resource_id == resource_id)
    )


# -- resources the worker scans -------------------------------------------------------------


def current_of_type(tx: StoreTx, resource_type: str) -> list[StoredVersion]:
    """Every live current resource of one type (the worker's subscription list)."""
    r = s.resource
    rows = tx.conn.execute(
        select(*CURRENT_COLUMNS).where(r.c.resource_type == resource_type, r.c.deleted.is_(False))
    ).all()
    return [bulk_version(row, tx.conn) for row in rows]
