"""What a review flag tells its sender about probable matches: only patients it may read.

Probable matches are looked up among every stored patient; a hidden patient's existence,
id and traits must not show through the flag (its diagnostics, the HL7 ERR-8, or
``details.candidates``).
"""

from __future__ import annotations

from gateway.access.context import AccessContext
from gateway.auth import demo
from gateway.intake import Intake, QuarantineDesk, QuarantineQuery, sender_for
from gateway.record.services import RecordServices

from .support import ehpad_sender, hl7

EHPAD = demo.EHPAD_SYSTEM.context(client_id="demo-ehpad")

RESIDENTS_HEADER = "N° résident;Nom de naissance;Prénoms;Date de naissance;Sexe;INS;Statut identité"


def _alice_twin_a28() -> bytes:
    message = hl7("demo-adt-a28-provisional.hl7").replace(
        b"PETIT^Andr\xc3\xa9^Andr\xc3\xa9", b"DUPONT^Alice^Alice"
    )
    return message.replace(b"19520517|M", b"19850312|F")


def test_a_csv_flag_does_not_show_a_patient_the_sender_may_not_read(
    intake: Intake, feeding: RecordServices
) -> None:
    body = f"{RESIDENTS_HEADER}\r\nR0777;DUPONT;Alice;12/03/1985;F;;PROV\r\n".encode()
    table = intake.csv(body, "residents", ehpad_sender())
    (row,) = table.rows
    assert row.status == "accepted" and len(row.reviews) == 1, row
    told = " ".join(i.diagnostics for i in row.issues)
    assert "flagged for identity review" in told
    assert "Patient/alice" not in told
    review = QuarantineDesk(intake).show(EHPAD, row.reviews[0])
    assert review["details"]["candidates"] == []
    assert "Patient/alice" not in str(review)


def test_an_hl7_flag_does_not_show_a_patient_the_sender_may_not_read(
    intake: Intake, feeding: RecordServices
) -> None:
    outcome = intake.hl7v2(_alice_twin_a28(), ehpad_sender())
    assert outcome.status == "accepted" and len(outcome.reviews) == 1, outcome.ack
    assert "Patient/alice" not in outcome.ack
    assert "flagged for identity review" in outcome.ack
    review = QuarantineDesk(intake).show(EHPAD, outcome.reviews[0])
    assert review["details"]["candidates"] == []
    assert "Patient/alice" not in str(review)


def test_a_flag_names_a_candidate_the_sender_may_read(
    intake: Intake, feeding: RecordServices
) -> None:
    dev = sender_for(AccessContext.dev_open(), dev_finess="750712184")
    outcome = intake.hl7v2(_alice_twin_a28(), dev)
    assert "Patient/alice" in outcome.ack
    review = QuarantineDesk(intake).show(AccessContext.dev_open(), outcome.reviews[0])
    (candidate,) = review["details"]["candidates"]
    assert candidate["reference"] == "Patient/alice"


def _twin_with_ins(number: str, control_id: str) -> bytes:
    """Alice's traits under a new INS: another person for the identity stage, by INS,
    but a probable match by traits."""
    ins = f"{number}{97 - int(number) % 97:02d}"
    message = _alice_twin_a28().replace(
        b"R0099^^^TILLEULS^PI",
        f"{ins}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS".encode(),
    )
    return message.replace(b"|PROV", b"|VALI").replace(b"TIL-ADT-000099", control_id.encode())


def test_a_professional_is_told_of_the_candidates_it_may_read_only(
    intake: Intake, feeding: RecordServices
) -> None:
    """Each candidate is judged as the professional asking about that patient: the
    physician of Alice's care team is told of her, the EHPAD's coordinating nurse (no
    care relationship with her) is not."""
    physician = sender_for(demo.PHYSICIAN.context(client_id="demo-vendor"))
    told = intake.hl7v2(_twin_with_ins("2850375123499", "CHD-1"), physician)
    assert told.status == "accepted" and len(told.reviews) == 1, told.ack
    assert "Patient/alice" in told.ack
    idec = sender_for(demo.IDEC.context(client_id="demo-vendor"))
    hidden = intake.hl7v2(_twin_with_ins("2850375123498", "CHD-2"), idec)
    assert hidden.status == "accepted" and len(hidden.reviews) == 1, hidden.ack
    assert "Patient/alice" not in hidden.ack
    assert "flagged for identity review" in hidden.ack
    review = QuarantineDesk(intake).show(idec.ctx, hidden.reviews[0])
    assert review["details"]["candidates"] == []


def _alice_ins_with_other_traits() -> bytes:
    """An A28 carrying Alice's INS (qualified) with another person's traits."""
    return hl7("fr-adt-a01-admission-ins.hl7").replace(
        b"240037505612377", demo.PATIENT_INS[0].encode()
    )


def test_an_identity_conflict_does_not_show_a_patient_the_sender_may_not_read(
    intake: Intake, feeding: RecordServices
) -> None:
    """Conflicting traits for an INS are quarantined with both versions, but the
    stored one only for a sender that may read that patient."""
    outcome = intake.hl7v2(_alice_ins_with_other_traits(), ehpad_sender())
    assert outcome.status == "quarantined", outcome.ack
    assert "traits" in outcome.ack and "Patient/alice" not in outcome.ack
    entry = QuarantineDesk(intake).show(EHPAD, outcome.quarantine_id or "")
    assert entry["reason"] == "conflict"
    details = entry["details"]
    assert "stored" not in details and details.get("patient") == "a stored patient"
    assert "incoming" in details and details["differences"]
    assert "1985-03-12" not in str(details) and "Patient/alice" not in str(details)
    # The entry's record (kept to seal the payload with her key) is not named either,
    # neither in the entry nor in a listing.
    assert "patient" not in entry and "Patient/alice" not in str(entry)
    listed = QuarantineDesk(intake).search(EHPAD, QuarantineQuery()).entries
    assert [e["id"] for e in listed] == [outcome.quarantine_id]
    assert "Patient/alice" not in str(listed)


def test_an_identity_conflict_shows_both_versions_to_a_sender_that_may_read(
    intake: Intake, feeding: RecordServices
) -> None:
    dev = sender_for(AccessContext.dev_open(), dev_finess="750712184")
    outcome = intake.hl7v2(_alice_ins_with_other_traits(), dev)
    assert outcome.status == "quarantined", outcome.ack
    entry = QuarantineDesk(intake).show(AccessContext.dev_open(), outcome.quarantine_id or "")
    assert entry["details"]["patient"] == "Patient/alice"
    assert entry["details"]["stored"]["birthDate"] == "1985-03-12"
    assert entry["patient"] == "Patient/alice"
    listed = QuarantineDesk(intake).search(AccessContext.dev_open(), QuarantineQuery()).entries
    assert [e.get("patient") for e in listed] == ["Patient/alice"]


def test_a_colleague_sending_the_same_message_is_judged_as_itself(
    intake: Intake, feeding: RecordServices
) -> None:
    """Two professionals of one vendor client and structure are two senders: the
    physician's first answer names Alice (she may read her record); the dentist sending
    the same bytes (same control id) is not handed that answer but judged as itself."""
    message = _twin_with_ins("2850375123499", "CHD-1")
    physician = sender_for(demo.PHYSICIAN.context(client_id="demo-vendor"))
    first = intake.hl7v2(message, physician)
    assert first.status == "accepted" and "Patient/alice" in first.ack, first.ack
    dentist = sender_for(demo.DENTIST.context(client_id="demo-vendor"))
    again = intake.hl7v2(message, dentist)
    assert "Patient/alice" not in again.ack, again.ack
    # The physician's own resend still gets its first answer, byte for byte.
    resent = intake.hl7v2(message, physician)
    assert resent.status == "duplicate" and resent.ack == first.ack
