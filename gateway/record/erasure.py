"""Crypto-shredding a patient (``dmp-gateway keys shred``): the retention limit applied.

One writer transaction: the patient's data key is destroyed (its wrapped bytes wiped,
``shredded`` stamped), the index rows of their resources are deleted (search cannot
find them), and an AuditEvent (operation ``crypto-shred``, by the ``admin`` caller) is
appended to the log. Rows stay: reading one answers 410 with GW-3090. The audit log is
sealed under its own key, so its entries stay readable and verifiable.
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.access.context import AccessContext
from gateway.audit.events import AuditRecord
from gateway.record.services import RecordServices
from gateway.storage import schema as s
from gateway.storage.keys import keyring_of


def shred_patient(services: RecordServices, patient_id: str, *, operator: str = "cli") -> int:
    """Destroy ``patient_id``'s data key; returns how many resources were unindexed."""
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
