"""Identity resolution reads hashed identifier rows (issue 9): an ADT then an ORU for the
same INS give one Patient, and the INS never lands in the index in clear."""

from __future__ import annotations

from sqlalchemy import select

from gateway.intake import Intake
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import by_id, ehpad_sender, hl7

ADT_INS = "240037505612377"


def test_adt_then_oru_resolve_the_same_patient_through_hashed_rows(
    intake: Intake, feeding: RecordServices
) -> None:
    assert feeding.blind.hashes_identifiers
    sender = ehpad_sender()
    admitted = intake.hl7v2(hl7("fr-adt-a01-admission-ins.hl7"), sender)
    (patient,) = [w.reference for w in admitted.written if w.resource_type == "Patient"]
    results = intake.hl7v2(hl7("fr-oru-r01-constantes-ehpad.hl7"), sender)
    assert results.status == "accepted", results.ack
    named = {(w.reference, w.status) for w in results.written if w.resource_type == "Patient"}
    assert named == {(patient, "exists")}
    with feeding.store.reader() as tx:
        codes = tx.conn.execute(select(s.idx_token.c.code)).scalars().all()
    assert not [c for c in codes if c and ADT_INS in c]
    assert feeding.blind.identifier(ADT_INS) in codes
    observations = [w.reference for w in results.written if w.resource_type == "Observation"]
    assert observations
    assert {by_id(feeding, o)["subject"]["reference"] for o in observations} == {patient}
