"""Export status, files and cancellation (Bulk Data Access 2.0).

Only the caller who started a job sees it (same kind, client, subject, structure and
group); to anyone else it does not exist (404).

- status: ``202`` with ``X-Progress`` and ``Retry-After`` while queued or running; ``200``
  with the manifest when complete (``requiresAccessToken`` is true: files are downloaded
  with the same caller's token); ``500`` with an OperationOutcome if it failed;
- ``DELETE``: cancels the job and deletes its files at once (``202``); the worker stops
  at its next step and removes anything it wrote after;
- files: ``application/fhir+ndjson``, once the access rules allow the caller every
  patient the file holds *now* (:func:`export_file`); each download is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.access.context import AccessContext
from gateway.errors import Issue, NotFound, operation_outcome
from gateway.fhir.instant import format_instant
from gateway.fhir.json import dumps
from gateway.policy import Action
from gateway.record.reader import RecordReader
from gateway.record.services import RecordServices
from gateway.storage.export_jobs import (
    ExportFile,
    ExportJob,
    cancel_job,
    files_of,
    forget_files,
    get_job,
)
from gateway.storage.store import SqlStore, StoreTx
from gateway.sync.export_audit import downloaded
from gateway.sync.export_files import ExportStorage
from gateway.sync.owner import key_of


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    status: int
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


def _own_job(store: SqlStore, ctx: AccessContext, job_id: str) -> ExportJob:
    with store.reader() as tx:
        job = get_job(tx, job_id)
    if job is None or job.owner != key_of(ctx) or job.state == "cancelled":
        raise NotFound("No such export job", code="GW-3081")
    return job


def job_status(store: SqlStore, ctx: AccessContext, job_id: str, status_url: str) -> StatusAnswer:
    job = _own_job(store, ctx, job_id)
    if job.state in ("queued", "running"):
        return StatusAnswer(
            202, None, {"X-Progress": job.progress or job.state, "Retry-After": "2"}
        )
    if job.state == "failed":
        outcome = operation_outcome(
            [Issue("error", "exception", job.error or "The export failed", (), "GW-5082")]
        )
        return StatusAnswer(500, dumps(outcome))
    with store.reader() as tx:
        files = files_of(tx, job.id)
    manifest: dict[str, Any] = {
        "transactionTime": format_instant(job.transaction_time),
        "request": job.request,
        "requiresAccessToken": True,
        "output": [
            {"type": f.resource_type, "url": f"{status_url}/{f.name}", "count": f.count}
            for f in files
        ],
        "deleted": [],
        "error": [],
    }
    return StatusAnswer(200, dumps(manifest), {"Content-Type": "application/json"})


def cancel(
    store: SqlStore, storage: ExportStorage, ctx: AccessContext, job_id: str, *, now: int
) -> StatusAnswer:
    job = _own_job(store, ctx, job_id)
    with store.writer() as tx:
        cancel_job(tx, job.id, now=now)
        forget_files(tx, job.id)
    storage.remove(job.id)
    return StatusAnswer(202, None)


def export_file(
    services: RecordServices, storage: ExportStorage, ctx: AccessContext, job_id: str, name: str
) -> Path:
    """The path of one of the caller's files, once the rules allow it now; audited.

    The file was written with the rights the owner had when the export ran. Those can
    have changed since (the patient blocked the professional, the resident left the
    EHPAD), and the token downloading it can be about another patient than the one that
    started it: so the caller must, now, be allowed to read every patient whose data the
    file holds. Otherwise it is *not found*, as a read would be; naming the patient or
    the rule would tell what a read hides (a block is not disclosed). A file written
    before its patients were recorded (revision 0012) cannot be checked: not found.
    """
    store = services.store
    job = _own_job(store, ctx, job_id)
    if job.state != "complete":
        raise NotFound("No such export file", code="GW-3082")
    with store.reader() as tx:
        file = next((f for f in files_of(tx, job.id) if f.name == name), None)
        allowed = file is not None and _may_read_all(services, ctx, tx, file)
    path = storage.path(job.id, name) if file is not None and allowed else None
    if file is None or path is None:
        raise NotFound(
            "No such export file, or no longer available to this caller (the access rules "
            "are checked again at download): start a new export",
            code="GW-3082",
        )
    downloaded(services, ctx, file)
    return path


def _may_read_all(
    services: RecordServices, ctx: AccessContext, tx: StoreTx, file: ExportFile
) -> bool:
    patients = file.patient_ids
    if patients is None:
        return False
    reader = RecordReader(ctx, services, tx)
    for patient_id in patients:
        current = tx.current("Patient", patient_id)
        if current is None or current.deleted or not reader.visible(current, Action.READ):
            return False
    return True
