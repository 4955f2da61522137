"""Feeding under the DMP rules: what a pharmacy's or an EHPAD's software may write.

Each refusal names the rule (gateway/policy/README.md); the message is quarantined
with an AE (the content is refused: a resend cannot succeed), never stored in part.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.auth import demo
from gateway.intake import Intake, MessageOutcome, QuarantineDesk, sender_for
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import ALICE_INS, CSV, count, ehpad_sender, hl7, pharmacist_sender, stored

BRUNO_INS = demo.PATIENT_INS[1]
EHPAD = demo.EHPAD_SYSTEM.context(client_id="demo-ehpad")


def _rejected(outcome: MessageOutcome, rule: str) -> None:
    assert outcome.status == "quarantined"
    # AE, not AR: AR means "not processed, resend it" (gateway failures); this refusal
    # depends on the content (which patient, which author) and stands on a resend.
    assert outcome.ack_code == "AE"
    assert rule in outcome.ack, outcome.ack
    # ERR-3 can only say 207 (table 0357 names no refusal); ERR-5 says it was the rules.
    err = next(seg for seg in outcome.ack.split("\r") if seg.startswith("ERR|")).split("|")
    assert err[3].startswith("207^")
    assert err[5] == "GW-2003^forbidden^L"


def test_a_pharmacist_may_not_open_a_record(intake: Intake, feeding: RecordServices) -> None:
    versions = count(feeding)
    outcome = intake.hl7v2(hl7("fr-rds-o13-dispensation-cip13.hl7"), pharmacist_sender())
    _rejected(outcome, "matrix-denied")
    assert count(feeding) == versions, "nothing stored in part"


def test_a_pharmacist_needs_a_care_relationship(intake: Intake, feeding: RecordServices) -> None:
    bruno = hl7("demo-rds-o13-alice.hl7").replace(b"285037512345688", BRUNO_INS.encode())
    bruno = bruno.replace(b"DUPONT^Alice^Alice", b"LAMBERT^Bruno^Bruno")
    bruno = bruno.replace(b"19850312|F", b"19620130|M")
    _rejected(intake.hl7v2(bruno, pharmacist_sender()), "no-relationship")


def test_a_token_naming_another_patient_is_refused(intake: Intake, feeding: RecordServices) -> None:
    sender = pharmacist_sender()
    other = replace(sender, ctx=replace(sender.ctx, patient=BRUNO_INS))
    _rejected(intake.hl7v2(hl7("demo-rds-o13-alice.hl7"), other), "patient-mismatch")


def test_a_pharmacist_may_not_add_a_colleague_to_the_directory(
    intake: Intake, feeding: RecordServices
) -> None:
    colleague = hl7("demo-rds-o13-alice.hl7").replace(b"10000000025^BERNARD", b"10001234565^DURAND")
    _rejected(intake.hl7v2(colleague, pharmacist_sender()), "matrix-denied")


def test_an_ehpad_writes_only_for_its_residents(intake: Intake, feeding: RecordServices) -> None:
    # Alice has a record but is not a resident: an observation about her is refused;
    # her admission (ADT) would enrol her (see test_intake_messages).
    alice = hl7("fr-oru-r01-constantes-ehpad.hl7").replace(b"240037505612377", b"285037512345688")
    alice = alice.replace(
        b"DUPONT^Marie-H\xc3\xa9l\xc3\xa8ne^Marie-H\xc3\xa9l\xc3\xa8ne Jeanne",
        b"DUPONT^Alice^Alice",
    )
    alice = alice.replace(b"~LEF\xc3\x88VRE^Marie-H\xc3\xa9l\xc3\xa8ne^^^^^D", b"")
    alice = alice.replace(b"19400312|F", b"19850312|F")
    _rejected(intake.hl7v2(alice, ehpad_sender()), "not-in-group")


def test_a_refusal_does_not_name_the_record_the_payload_was_matched_to(
    intake: Intake, feeding: RecordServices
) -> None:
    """The identity stage matches Alice by her INS among every patient; an EHPAD whose
    update of her is refused must not learn her record's id from the refusal (the
    ACK, the quarantine entry): only where in its payload the fault is."""
    (alice,) = [p for p in stored(feeding, "Patient") if ALICE_INS in str(p["identifier"])]
    update = hl7("fr-adt-a08-latin1-lf.hl7").replace(b"245101305502104", ALICE_INS.encode())
    update = update.replace(b"BERNARD^Lucienne^Lucienne Th\xe9r\xe8se", b"DUPONT^Alice^Alice")
    update = update.replace(b"19451021|F", b"19850312|F")
    outcome = intake.hl7v2(update, ehpad_sender())
    _rejected(outcome, "not-author")
    assert "(PUT Patient)" in outcome.ack, outcome.ack
    assert f"Patient/{alice['id']}" not in outcome.ack
    entry = QuarantineDesk(intake).show(EHPAD, outcome.quarantine_id or "")
    assert entry["issues"] and f"Patient/{alice['id']}" not in str(entry)


def test_care_notes_are_stored_with_their_binary_judged_as_the_document(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    table = intake.csv((CSV / "care-notes.csv").read_bytes(), "care-notes", sender)
    assert table.counts == {"accepted": 3, "duplicate": 0, "quarantined": 0}, table.rows
    binaries = stored(feeding, "Binary")
    assert len(binaries) == 3
    documents = {d["id"] for d in stored(feeding, "DocumentReference")}
    for binary in binaries:
        secured = binary["securityContext"]["reference"].split("/")
        assert secured[0] == "DocumentReference"
        assert secured[1] in documents


def test_gateway_writes_are_only_provenance_and_products(
    intake: Intake, feeding: RecordServices
) -> None:
    outcome = intake.hl7v2(hl7("demo-rds-o13-alice.hl7"), pharmacist_sender())
    assert outcome.status == "accepted"
    with feeding.store.reader() as tx:
        rows = tx.conn.execute(
            s.resource.select().where(s.resource.c.author == "dmp-gateway/intake")
        ).all()
    assert sorted({r.resource_type for r in rows}) == ["Medication", "Provenance"]
    dispense = stored(feeding, "MedicationDispense")[0]
    with feeding.store.reader() as tx:
        current = tx.current("MedicationDispense", dispense["id"])
    assert current is not None
    assert (current.author, current.author_structure) == (demo.PHARMACIST.subject, demo.PHARMACY)


def test_a_caller_without_a_finess_structure_cannot_send() -> None:
    import pytest

    from gateway.errors import Forbidden

    with pytest.raises(Forbidden, match="FINESS"):
        sender_for(demo.PHYSICIAN.context(structure="3123456789"))
    with pytest.raises(Forbidden, match="cannot ingest"):
        sender_for(demo.AUDITOR.context())
