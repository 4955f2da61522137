"""Bulk Data exports in the audit log: every file written, every file downloaded.

An export moves patients' data out of the record in two steps, and each is an
AuditEvent (operation, BALP action ``R``: the record is read out) with the patients
whose data the file holds as entities, so that it shows in each patient's access log
(``/me/access-log``) and in an auditor's search by patient:

- :func:`file_written`: in the worker, in the transaction that records the file in
  ``sync_export_file`` (a file without its audit entry is never listed in a manifest).
  The agent is the job's owner, whose rights the export ran with;
- :func:`downloaded`: the caller who downloads it, appended durably before the file is
  sent (no response without an audit record: if the append fails, the download fails).

Entries carry the job, file name, type, count and SHA-256 (in the query entity), never
the content.
"""

from __future__ import annotations

import orjson
from sqlalchemy.engine import Connection

from gateway.access.context import AccessContext
from gateway.audit.events import AuditRecord
from gateway.record.services import RecordServices
from gateway.storage.export_jobs import ExportFile, ExportJob
from gateway.sync.owner import context_of


def _record(
    services: RecordServices, ctx: AccessContext, file: ExportFile, operation: str
) -> AuditRecord:
    query = (
        f"sync/export/{file.job_id}/{file.name}?type={file.resource_type}"
        f"&count={file.count}&sha256={file.sha256}"
    )
    return AuditRecord(
        interaction="operation",
        ctx=ctx,
        recorded=services.clock(),
        action="R",
        patients=tuple(file.patient_ids or ()),
        query=query.encode(),
        operation=operation,
    )


def file_written(
    services: RecordServices, conn: Connection, job: ExportJob, file: ExportFile
) -> None:
    """Record, in the caller's transaction, that the worker wrote ``file`` for ``job``."""
    if services.audit is None:
        return
    owner = context_of(orjson.loads(job.caller))
    services.audit.record(conn, _record(services, owner, file, "export-file-written"))


def downloaded(services: RecordServices, ctx: AccessContext, file: ExportFile) -> None:
    """Record, durably, that ``ctx`` downloads ``file`` (raises if it cannot)."""
    if services.audit is not None:
        services.audit.record_standalone(_record(services, ctx, file, "export-file-download"))
