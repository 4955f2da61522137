"""What the repository tells the audit log about each interaction (issue 7).

The REST layer names the interaction (:class:`Interaction`); the repository knows what
was disclosed or written and for which patients. The outermost unit of work turns both
into an :class:`gateway.audit.events.AuditRecord`: a write records it inside its own
transaction (they commit together), a read appends it durably before its answer leaves
(:class:`~gateway.storage.audit_errors.AuditUnavailable` → 503, no data).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.engine import Connection

from gateway.access.context import AccessContext
from gateway.audit.codes import Interaction as InteractionCode
from gateway.audit.codes import outcome_for_status
from gateway.audit.events import AuditRecord, ResourceVersion
from gateway.storage.records import StoredVersion

# Interactions whose results are lists: their events name the patients, not every resource.
LISTS = frozenset(
    {
        "search-type",
        "search-system",
        "history-instance",
        "history-type",
        "history-system",
        "batch",
        "transaction",
    }
)


class AuditSink(Protocol):
    def record(self, conn: Connection, record: AuditRecord) -> list[int]: ...

    def record_standalone(self, record: AuditRecord) -> list[int]: ...


@dataclass(slots=True)
class Interaction:
    """The interaction being served, as the HTTP layer saw it."""

    code: InteractionCode
    query: bytes | None = None
    operation: str | None = None
    disclosed: list[StoredVersion] = field(default_factory=list)


def record_of(
    interaction: Interaction,
    ctx: AccessContext,
    recorded: int,
    versions: Iterable[StoredVersion],
    *,
    status: int = 200,
    reason: str | None = None,
    patients: Iterable[str] = (),
) -> AuditRecord:
    """``patients``: more patients to name (those of a refused interaction's targets)."""
    seen = list(versions)
    named = sorted({v.patient_id for v in seen if v.patient_id} | set(patients))
    resources: Sequence[ResourceVersion] = ()
    if interaction.code not in LISTS:
        resources = [ResourceVersion(v.resource_type, v.id, v.version) for v in seen]
    return AuditRecord(
        interaction=interaction.code,
        ctx=ctx,
        recorded=recorded,
        outcome=outcome_for_status(status),
        reason=reason,
        patients=named,
        resources=resources,
        query=interaction.query,
        operation=interaction.operation,
    )
