"""Operational figures read from the database when ``/metrics`` is scraped.

Small aggregate queries over indexed columns: open quarantine entries, the audit log's
size and last checkpoint, and the subscription backlog. They hold counts and times,
never content.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from gateway.storage import schema as s
from gateway.storage.audit_head import read_head


@dataclass(frozen=True, slots=True)
class OpsStats:
    quarantine_open: int
    audit_entries: int
    audit_checkpointed: int
    audit_checkpoint_time: int  # microseconds since the Unix epoch; 0: never
    deliveries_pending: int
    deliveries_oldest_pending: int | None  # ``created`` of the oldest pending, microseconds


def operational_stats(engine: Engine) -> OpsStats:
    q, d = s.intake_quarantine, s.sync_delivery
    with engine.connect() as conn:
        quarantine = conn.execute(
            select(func.count()).select_from(q).where(q.c.status == "open")
        ).scalar_one()
        pending, oldest = conn.execute(
            select(func.count(), func.min(d.c.created)).where(d.c.state == "pending")
        ).one()
        head = read_head(conn, lock=False)
    return OpsStats(
        quarantine_open=int(quarantine),
        audit_entries=head.size,
        audit_checkpointed=head.checkpoint_size,
        audit_checkpoint_time=head.checkpoint_time,
        deliveries_pending=int(pending),
        deliveries_oldest_pending=int(oldest) if oldest is not None else None,
    )
