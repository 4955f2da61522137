"""SQL for Bulk Data export jobs and the files they wrote (issue 8).

A job is ``queued``, then ``running`` under a worker's lease, then ``complete``,
``failed`` or ``cancelled``. A running job whose lease ran out (its worker died) is claimed
again and restarts from scratch, so a job survives a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx
from gateway.storage.version_rows import CURRENT_COLUMNS, bulk_version

ACTIVE = ("queued", "running")


@dataclass(frozen=True, slots=True)
class ExportJob:
    id: str
    owner: str
    caller: str  # JSON of the caller's facts
    level: str  # "patient" or "group"
    group_id: str | None
    types: str | None  # comma-separated resource types, or None for all
    since: int | None
    request: str
    state: str
    progress: str | None
    transaction_time: int
    created: int
    updated: int
    holder: str | None
    lease_until: int
    error: str | None


@dataclass(frozen=True, slots=True)
class ExportFile:
    job_id: str
    name: str
    resource_type: str
    count: int
    size: int
    sha256: str
    patients: str | None = None  # the ids of the patients it holds, space-separated

    @property
    def patient_ids(self) -> list[str] | None:
        return self.patients.split() if self.patients is not None else None


def _job(row: Any) -> ExportJob:
    return ExportJob(**{f.name: getattr(row, f.name) for f in fields(ExportJob)})


def create_job(tx: StoreTx, job: ExportJob) -> None:
    tx.conn.execute(
        insert(s.sync_export_job).values(
            **{f.name: getattr(job, f.name) for f in fields(ExportJob)}
        )
    )


def get_job(tx: StoreTx, job_id: str) -> ExportJob | None:
    j = s.sync_export_job
    row = tx.conn.execute(select(j).where(j.c.id == job_id)).first()
    return _job(row) if row else None


def any_claimable(tx: StoreTx, *, now: int) -> bool:
    j = s.sync_export_job
    found = tx.conn.execute(
        select(j.c.id)
        .where(or_(j.c.state == "queued", (j.c.state == "running") & (j.c.lease_until <= now)))
        .limit(1)
    ).first()
    return found is not None


def claim_job(tx: StoreTx, *, holder: str, now: int, lease_us: int) -> ExportJob | None:
    """The oldest queued job, or a running one whose lease ran out, leased to ``holder``."""
    j = s.sync_export_job
    row = tx.conn.execute(
        select(j)
        .where(or_(j.c.state == "queued", (j.c.state == "running") & (j.c.lease_until <= now)))
        .order_by(j.c.created)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    tx.conn.execute(
        update(j)
        .where(j.c.id == row.id)
        .values(state="running", holder=holder, lease_until=now + lease_us, updated=now)
    )
    return _job(row)


def renew_job(
    tx: StoreTx, job_id: str, *, holder: str, now: int, lease_us: int, progress: str
) -> bool:
    """Extend the lease and report progress; False when the job was cancelled or taken."""
    j = s.sync_export_job
    result = tx.conn.execute(
        update(j)
        .where(j.c.id == job_id, j.c.state == "running", j.c.holder == holder)
        .values(lease_until=now + lease_us, progress=progress, updated=now)
    )
    return result.rowcount == 1


def finish_job(
    tx: StoreTx, job_id: str, *, holder: str, state: str, now: int, error: str | None = None
) -> bool:
    j = s.sync_export_job
    result = tx.conn.execute(
        update(j)
        .where(j.c.id == job_id, j.c.state == "running", j.c.holder == holder)
        .values(state=state, updated=now, error=error, progress=None, lease_until=0)
    )
    return result.rowcount == 1


def cancel_job(tx: StoreTx, job_id: str, *, now: int) -> bool:
    """Mark a job cancelled (any state but cancelled); its files must then be deleted."""
    j = s.sync_export_job
    result = tx.conn.execute(
        update(j)
        .where(j.c.id == job_id, j.c.state != "cancelled")
        .values(state="cancelled", updated=now, lease_until=0)
    )
    return result.rowcount == 1


def add_file(tx: StoreTx, file: ExportFile) -> None:
    tx.conn.execute(
        insert(s.sync_export_file).values(
            **{f.name: getattr(file, f.name) for f in fields(ExportFile)}
        )
    )


def files_of(tx: StoreTx, job_id: str) -> list[ExportFile]:
    f = s.sync_export_file
    rows = tx.conn.execute(select(f).where(f.c.job_id == job_id).order_by(f.c.name)).all()
    return [ExportFile(**dict(r._mapping)) for r in rows]


def forget_files(tx: StoreTx, job_id: str) -> None:
    f = s.sync_export_file
    tx.conn.execute(delete(f).where(f.c.job_id == job_id))


# -- what an export reads ------------------------------------------------------------------


def current_page(
    tx: StoreTx,
    resource_type: str,
    *,
    patient_ids: Sequence[str] | None = None,
    since: int | None = None,
    after_pk: int = 0,
    limit: int = 500,
) -> list[StoredVersion]:
    """Live current resources of one type, by primary key, optionally of some patients and
    changed after ``since`` (strictly: Bulk Data's ``_since``)."""
    r = s.resource
    conds = [r.c.resource_type == resource_type, r.c.deleted.is_(False), r.c.pk > after_pk]
    if patient_ids is not None:
        conds.append(r.c.patient_id.in_(list(patient_ids)))
    if since is not None:
        conds.append(r.c.last_updated > since)
    rows = tx.conn.execute(
        select(*CURRENT_COLUMNS).where(*conds).order_by(r.c.pk).limit(limit)
    ).all()
    return [bulk_version(row, tx.conn) for row in rows]


def types_of_patients(tx: StoreTx, patient_ids: Sequence[str]) -> list[str]:
    r = s.resource
    rows = tx.conn.execute(
        select(r.c.resource_type)
        .where(r.c.patient_id.in_(list(patient_ids)), r.c.deleted.is_(False))
        .distinct()
    ).all()
    return sorted(row.resource_type for row in rows)
