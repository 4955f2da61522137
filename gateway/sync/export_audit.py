"""The audit hook of Bulk Data exports.

:func:`record_export_file` is called for every file an export wrote, in the worker, right
after the file is stored and recorded in ``sync_export_file``. The audit log (AuditEvent
with the Merkle log) is being built in another issue: its engineer replaces the body of
this function (or wires it to the audit service) so that each exported file becomes an
AuditEvent (type ``rest``/``export``, the owner as agent, the job and file as entities).
Until then it writes one structured log line without clinical content.
"""

from __future__ import annotations

import logging

from gateway.storage.export_jobs import ExportFile, ExportJob

log = logging.getLogger("gateway.sync.export.audit")


def record_export_file(job: ExportJob, file: ExportFile, *, patients: int) -> None:
    """AUDIT HOOK (issue 8 → audit): one exported file. Must not raise for a logging issue."""
    log.info(
        "export file job=%s file=%s type=%s resources=%d bytes=%d sha256=%s owner=%s patients=%d",
        job.id,
        file.name,
        file.resource_type,
        file.count,
        file.size,
        file.sha256,
        job.owner,
        patients,
    )
