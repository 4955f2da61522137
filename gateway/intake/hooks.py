"""Quarantine actions in the audit log (issue 7).

Every read of a quarantined payload, every replay and every discard is recorded as an
AuditEvent (operation ``quarantine-read`` / ``-replay`` / ``-discard``) naming the
caller and the entry, never the payload. Reads and replays are appended durably before
anything is returned (a failure is a 503); a discard is recorded in its own transaction.
"""

from __future__ import annotations

from gateway.access.context import AccessContext
from gateway.audit.events import AuditRecord
from gateway.record.services import RecordServices


def quarantine_record(
    services: RecordServices, ctx: AccessContext, action: str, entry_id: str
) -> AuditRecord:
    return AuditRecord(
        interaction="operation",
        ctx=ctx,
        recorded=services.clock(),
        action="D" if action == "discard" else "E" if action == "replay" else "R",
        query=f"ingest/quarantine/{entry_id}".encode(),
        operation=f"quarantine-{action}",
    )


def record_quarantine_action(
    services: RecordServices, ctx: AccessContext, action: str, entry_id: str
) -> None:
    """Record that ``ctx`` did ``action`` (read, replay) on a quarantine entry, durably."""
    if services.audit is not None:
        services.audit.record_standalone(quarantine_record(services, ctx, action, entry_id))
