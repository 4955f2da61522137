"""Crypto-shredding a patient (``dmp-gateway keys shred``): the retention limit applied.

One writer transaction: the patient's data key is destroyed (its wrapped bytes wiped,
``shredded`` stamped), the index rows of their resources are deleted (search cannot
find them), and an AuditEvent (operation ``crypto-shred``, by the ``admin`` caller) is
appended to the log. Rows stay: reading one answers 410 with GW-3090. The audit log is
sealed under its own key, so its entries stay readable and verifiable.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from gateway.access.context import AccessContext
from gateway.audit.events import AuditRecord
from gateway.record.services import RecordServices
from gateway.storage import schema as s
from gateway.storage.keys import keyring_of


class NothingToShred(Exception):
    """Shredding would destroy nothing; the message says why. Nothing was written."""


def shred_patient(services: RecordServices, patient_id: str, *, operator: str = "cli") -> int:
    """Destroy ``patient_id``'s data key; returns how many resources were unindexed.

    Raises :class:`NothingToShred` (nothing written, nothing audited) when the patient
    has no live data key: already shredded, never stored, or stored before encryption
    was enabled (``keys seal-existing`` first). Checked under the key's lock, in the
    transaction that shreds, so a concurrent write cannot slip between the two.
    """
    store = services.store
    with store.writer() as tx:
        ring = keyring_of(tx.conn)
        if ring is None:
            raise RuntimeError("no keyring attached to the store's engine")
        tx.lock(f"dek:patient:{patient_id}")
        pks = list(
            tx.conn.execute(
                select(s.resource.c.pk).where(s.resource.c.patient_id == patient_id)
            ).scalars()
        )
        key = tx.conn.execute(
            select(s.data_key.c.shredded).where(
                s.data_key.c.scope == "patient", s.data_key.c.owner == patient_id
            )
        ).first()
        _refuse_nothing(key.shredded if key is not None else None, key is not None, len(pks))
        ring.shred(tx.conn, "patient", patient_id)
        tx.purge_index(pks)
        if services.audit is not None:
            record = AuditRecord(
                interaction="operation",
                ctx=AccessContext(kind="admin", client_id=operator),
                recorded=services.clock(),
                action="D",
                patients=(patient_id,),
                query=f"Patient/{patient_id}/$crypto-shred".encode(),
                operation="crypto-shred",
            )
            services.audit.record(tx.conn, record)
    return len(pks)


def _refuse_nothing(shredded: int | None, has_key: bool, stored: int) -> None:
    if shredded is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(shredded / 1_000_000))  # µs
        raise NothingToShred(f"the data key was already destroyed ({when})")
    if not has_key and not stored:
        raise NothingToShred("no such patient and no data key")
    if not has_key:
        raise NothingToShred(
            f"no data key ({stored} resources stored unencrypted: run "
            "'dmp-gateway keys seal-existing' first)"
        )
