"""The idempotency ledger: the first outcome of every message or CSV record, by key.

A key is the SHA-256 of (the sender: client id, structure and, for a professional, its
idNat_PS; the format; then the message's own identity): for HL7 v2 the sending
application, facility and MSH-10 (HL7 v2.5 §2.10.1: the control id is unique per
sending system), else the SHA-256 of the payload; for a CSV record its kind and exact
text. The same key ingested again produces nothing
and returns the stored first answer, byte for byte (the ACK, or the row's JSON).

The ledger row is written in the same transaction as what the message produced (or its
quarantine entry), under a lock on the key, so two deliveries of one message racing on
two connections serialise and the second sees the first's outcome.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from gateway.intake.sender import Sender
from gateway.storage import schema as s
from gateway.storage.sealing import open_ledger, seal_ledger
from gateway.storage.store import StoreTx


def ledger_key(sender: Sender, fmt: str, parts: Iterable[str]) -> str:
    """The key of a payload (``parts``: its own identity) sent by ``sender``.

    A professional's keys include its idNat_PS: two professionals of one vendor client
    and structure (a physician, a dentist) are two senders. The first answer can say
    what the record holds as its sender may read it (a review flag naming a candidate,
    a duplicate of a stored fact), and a colleague with other rights sending the same
    bytes must be judged as itself, not handed that answer. A system's keys (an EHPAD's
    software: one sender per client and structure) are as before that distinction.
    """
    owner = [sender.client_id, sender.structure]
    if sender.subject is not None:
        owner.append("ps:" + sender.subject)
    text = "\x1f".join([*owner, fmt, *parts])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    key: str
    source: str
    structure: str
    format: str
    kind: str
    message_id: str | None
    payload_sha256: str
    received: int
    status: str  # accepted | duplicate | quarantined
    response: bytes
    ack_code: str | None = None
    quarantine_id: str | None = None
    provenance_id: str | None = None
    content_sha256: str | None = None
    """HL7: :func:`gateway.ingest.hl7v2.er7.content_digest` of the message."""


_T = s.intake_message
# Built once: constructing ``in_`` clauses per message cost more than running the query.
_FIND = select(_T).where(_T.c.key.in_(bindparam("keys", expanding=True)))
_INSERT = insert(_T)


def _row(conn: Connection, record: LedgerRecord) -> dict[str, object]:
    return {
        "key": record.key,
        "source": record.source[:64],
        "structure": record.structure[:64],
        "format": record.format,
        "kind": record.kind[:64],
        "message_id": record.message_id[:200] if record.message_id else None,
        "payload_sha256": record.payload_sha256,
        "received": record.received,
        "status": record.status,
        "ack_code": record.ack_code,
        "response": seal_ledger(conn, record.key, record.response),
        "quarantine_id": record.quarantine_id,
        "provenance_id": record.provenance_id,
        "content_sha256": record.content_sha256,
    }


def lock(tx: StoreTx, keys: Sequence[str]) -> None:
    """Serialise writers on these keys until commit (sorted: no lock-order deadlock)."""
    tx.lock(*(f"intake:{key}" for key in keys))


def find(conn: Connection, keys: Sequence[str]) -> dict[str, LedgerRecord]:
    if not keys:
        return {}
    out: dict[str, LedgerRecord] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), 500):
        rows = conn.execute(_FIND, {"keys": unique[start : start + 500]}).all()
        for row in rows:
            out[row.key] = LedgerRecord(
                key=row.key,
                source=row.source,
                structure=row.structure,
                format=row.format,
                kind=row.kind,
                message_id=row.message_id,
                payload_sha256=row.payload_sha256,
                received=row.received,
                status=row.status,
                response=open_ledger(conn, row.key, row.response),
                ack_code=row.ack_code,
                quarantine_id=row.quarantine_id,
                provenance_id=row.provenance_id,
                content_sha256=row.content_sha256,
            )
    return out


def add(conn: Connection, records: Sequence[LedgerRecord]) -> None:
    if records:
        conn.execute(_INSERT, [_row(conn, r) for r in records])


def supersede(conn: Connection, record: LedgerRecord) -> None:
    """Replace a key's outcome (a quarantined message replayed successfully)."""
    values = _row(conn, record)
    del values["key"]
    result = conn.execute(update(_T).where(_T.c.key == record.key).values(**values))
    if result.rowcount == 0:
        add(conn, [record])
