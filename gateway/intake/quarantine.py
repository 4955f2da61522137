"""The quarantine: every payload the gateway did not store, kept with why (issue 5).

An entry holds the raw payload exactly as received (an HL7 message; a CSV record
preceded by its file's header line, so that it can be parsed again on its own), who
sent it (client id, structure and, for a professional, the professional's idNat_PS:
:class:`Owner`), when, its kind, and the located issues. ``reason``:

- ``rejected``: the payload was not stored (a parse error, an unknown patient, a write
  the access rules or the profiles refused);
- ``conflict``: identity conflict (another birth date for the same INS, two records for
  one person…); ``details`` shows both versions;
- ``review``: a probable match by traits. The payload *was* stored (a new Patient);
  the entry asks a human to check whether two records are one person. Never merged
  automatically.

``status``: ``open``, ``replayed`` (stored on a later attempt) or ``discarded`` (its
payload is then erased; the entry stays, so the count of what was received never
shrinks).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection

from gateway.crypto.errors import ContentErased
from gateway.ingest.issues import IngestIssue
from gateway.storage import schema as s
from gateway.storage.sealing import open_quarantine, seal_quarantine

_T = s.intake_quarantine
REASONS = ("rejected", "conflict", "review")
STATUSES = ("open", "replayed", "discarded")


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    id: str
    source: str
    structure: str
    format: str
    kind: str
    reason: str
    status: str
    received: int
    updated: int
    payload: bytes | None
    payload_sha256: str
    issues: list[dict[str, Any]]
    details: dict[str, Any] | None = None
    message_id: str | None = None
    idempotency_key: str | None = None
    line: int | None = None
    patient_id: str | None = None
    attempts: int = 1
    # The sending professional's idNat_PS (its token's ``sub``); None for a system
    # sender (and the dev caller), and for every entry stored before migration 0011.
    subject: str | None = None

    @property
    def owner(self) -> Owner:
        return Owner(self.source, self.structure, self.subject)


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose entry it is: only that sender lists, reads, replays and discards it
    (:mod:`gateway.intake.visibility`). ``subject`` None is a system sender's: every
    token of that client for that structure is the same sender."""

    source: str
    structure: str
    subject: str | None


def new_id() -> str:
    return str(uuid.uuid4())


def _row(conn: Connection, e: QuarantineEntry) -> dict[str, Any]:
    """The row of an entry; payload, issues and details sealed (encryption at rest)."""

    def sealed(column: str, value: bytes | None) -> bytes | None:
        return seal_quarantine(conn, e.id, e.patient_id, column, value)

    return {
        "id": e.id,
        "source": e.source[:64],
        "structure": e.structure[:64],
        "format": e.format,
        "kind": e.kind[:64],
        "reason": e.reason,
        "status": e.status,
        "received": e.received,
        "updated": e.updated,
        "message_id": e.message_id[:200] if e.message_id else None,
        "idempotency_key": e.idempotency_key,
        "line": e.line,
        "payload": sealed("payload", e.payload),
        "payload_sha256": e.payload_sha256,
        "issues": sealed("issues", orjson.dumps(e.issues)),
        "details": sealed("details", orjson.dumps(e.details) if e.details is not None else None),
        "patient_id": e.patient_id,
        "attempts": e.attempts,
        "subject": e.subject,
    }


def _entry(conn: Connection, row: Any) -> QuarantineEntry:
    def opened(column: str, value: bytes | None) -> bytes | None:
        try:
            return open_quarantine(conn, row.id, column, value)
        except ContentErased:
            return None  # the patient was erased: the entry stays, its content is gone

    payload = opened("payload", row.payload)
    issues = opened("issues", row.issues)
    details = opened("details", row.details)
    return QuarantineEntry(
        id=row.id,
        source=row.source,
        structure=row.structure,
        format=row.format,
        kind=row.kind,
        reason=row.reason,
        status=row.status,
        received=row.received,
        updated=row.updated,
        payload=payload,
        payload_sha256=row.payload_sha256,
        issues=orjson.loads(issues) if issues is not None else [],
        details=orjson.loads(details) if details is not None else None,
        message_id=row.message_id,
        idempotency_key=row.idempotency_key,
        line=row.line,
        patient_id=row.patient_id,
        attempts=row.attempts,
        subject=row.subject,
    )


def add(conn: Connection, entries: Sequence[QuarantineEntry]) -> None:
    if entries:
        conn.execute(insert(_T), [_row(conn, e) for e in entries])


def get(conn: Connection, entry_id: str) -> QuarantineEntry | None:
    row = conn.execute(select(_T).where(_T.c.id == entry_id)).first()
    return _entry(conn, row) if row is not None else None


@dataclass(frozen=True, slots=True)
class QuarantineQuery:
    """Filters of ``GET /ingest/quarantine``; every given filter must hold. ``owner``
    is not a parameter: the desk sets it to the caller when the caller is a sender."""

    owner: Owner | None = None
    source: str | None = None
    structure: str | None = None
    kind: str | None = None
    reason: str | None = None
    status: str | None = None
    received_from: int | None = None  # inclusive, microseconds
    received_to: int | None = None  # exclusive
    before: tuple[int, str] | None = None  # keyset cursor: (received, id) of the last seen
    limit: int = 50


def search(conn: Connection, query: QuarantineQuery) -> list[QuarantineEntry]:
    """Entries matching ``query``, newest first (``limit + 1`` tells there is more)."""
    conds: list[Any] = []
    if query.owner is not None:
        owner = query.owner
        conds.append(_T.c.source == owner.source)
        conds.append(_T.c.structure == owner.structure)
        conds.append(
            _T.c.subject.is_(None) if owner.subject is None else _T.c.subject == owner.subject
        )
    for column, value in (
        (_T.c.source, query.source),
        (_T.c.structure, query.structure),
        (_T.c.kind, query.kind),
        (_T.c.reason, query.reason),
        (_T.c.status, query.status),
    ):
        if value is not None:
            conds.append(column == value)
    if query.received_from is not None:
        conds.append(_T.c.received >= query.received_from)
    if query.received_to is not None:
        conds.append(_T.c.received < query.received_to)
    if query.before is not None:
        received, entry_id = query.before
        conds.append(
            (_T.c.received < received) | and_(_T.c.received == received, _T.c.id < entry_id)
        )
    stmt = select(_T).order_by(_T.c.received.desc(), _T.c.id.desc()).limit(query.limit + 1)
    if conds:
        stmt = stmt.where(and_(*conds))
    return [_entry(conn, row) for row in conn.execute(stmt).all()]


def set_status(
    conn: Connection,
    entry_id: str,
    status: str,
    now: int,
    *,
    erase_payload: bool = False,
    issues: list[dict[str, Any]] | None = None,
    attempted: bool = False,
    payload: bytes | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Set an entry's status; with ``issues``, ``payload`` or ``details``, also what a
    new attempt found (a replayed batch keeps only what still fails)."""
    values: dict[str, Any] = {"status": status, "updated": now}
    if erase_payload:
        values["payload"] = None
        values["details"] = None
    if issues is not None or payload is not None or details is not None:
        patient = conn.execute(select(_T.c.patient_id).where(_T.c.id == entry_id)).scalar()

        def sealed(column: str, value: bytes) -> bytes | None:
            return seal_quarantine(conn, entry_id, patient, column, value)

        if issues is not None:
            values["issues"] = sealed("issues", orjson.dumps(issues))
        if payload is not None and not erase_payload:
            values["payload"] = sealed("payload", payload)
            values["payload_sha256"] = hashlib.sha256(payload).hexdigest()
        if details is not None and not erase_payload:
            values["details"] = sealed("details", orjson.dumps(details))
    if attempted:
        values["attempts"] = _T.c.attempts + 1
    conn.execute(update(_T).where(_T.c.id == entry_id).values(**values))


def reopen(
    conn: Connection,
    entry_id: str,
    now: int,
    issues: Sequence[IngestIssue],
    *,
    payload: bytes | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """A replay failed again: the entry stays open, with what this attempt found."""
    set_status(
        conn,
        entry_id,
        "open",
        now,
        issues=[i.to_fhir() for i in issues],
        attempted=True,
        payload=payload,
        details=details,
    )
