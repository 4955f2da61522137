"""Log entries: AuditEvents serialised once, with the columns the log indexes them by.

The bytes of :attr:`LogEntry.content` are the entry: stored, hashed into the Merkle
tree (RFC 9162 leaf), exported and proven. They are produced exactly once, here, by
:func:`canonical_json` (keys sorted, no whitespace, UTF-8), and never re-serialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.audit.codes import (
    ALERT_MODES,
    EMERGENCY_OVERRIDE_STARTED,
    LOGIN,
    REST,
    SECURITY_ALERT,
    USER_AUTHENTICATION,
    Outcome,
)
from gateway.audit.events import (
    AuditRecord,
    authentication_failure_event,
    cleaned,
    rest_event,
    security_alert,
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One serialised AuditEvent and its search columns.

    ``agent`` is the caller's subject: idNat_PS for professionals, INS for patients.
    ``purpose`` is the access mode verbatim. ``patients`` are Patient ids.
    """

    content: bytes
    recorded: int  # microseconds since the Unix epoch
    event_type: str  # "rest", "110113" (security alert) or "110114" (authentication)
    interaction: str  # the subtype code
    action: str
    outcome: int
    purpose: str
    agent: str | None
    client: str | None
    structure: str | None
    patients: tuple[str, ...] = field(default=())


def canonical_json(event: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the one serialisation of a logged event."""
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def as_resource(content: bytes, seq: int) -> dict[str, Any]:
    """A logged entry as a FHIR AuditEvent resource: its id is its sequence number."""
    resource: dict[str, Any] = orjson.loads(content)
    resource["id"] = str(seq)
    return resource


def _entry(event: dict[str, Any], record: AuditRecord, event_type: str, sub: str) -> LogEntry:
    ctx = record.ctx
    return LogEntry(
        content=canonical_json(event),
        recorded=record.recorded,
        event_type=event_type,
        interaction=sub,
        action=event["action"],
        outcome=record.outcome,
        purpose=ctx.purpose_of_use,
        agent=ctx.subject,
        client=ctx.client_id,
        structure=ctx.structure,
        patients=tuple(dict.fromkeys(record.patients)),
    )


def log_entries(record: AuditRecord, origin: str) -> list[LogEntry]:
    """The entries for one interaction: its REST event, then a security alert when the
    caller used an emergency mode (break-the-glass or centre 15)."""
    record = cleaned(record)
    out = [_entry(rest_event(record, origin), record, REST, record.interaction)]
    if record.ctx.purpose_of_use in ALERT_MODES:
        alert = security_alert(record, origin)
        out.append(_entry(alert, record, SECURITY_ALERT, EMERGENCY_OVERRIDE_STARTED))
    return out


def authentication_failure(
    *,
    recorded: int,
    origin: str,
    reason: str,
    jti: str | None = None,
    request_id: str | None = None,
    outcome: Outcome = 4,
) -> LogEntry:
    """The entry for a rejected token or a failed authentication (only its ``jti``)."""
    event = authentication_failure_event(
        recorded=recorded,
        origin=origin,
        reason=reason,
        jti=jti,
        request_id=request_id,
        outcome=outcome,
    )
    return LogEntry(
        content=canonical_json(event),
        recorded=recorded,
        event_type=USER_AUTHENTICATION,
        interaction=LOGIN,
        action="E",
        outcome=outcome,
        purpose="normal",
        agent=None,
        client=None,
        structure=None,
    )
