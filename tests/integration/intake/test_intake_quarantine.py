"""Nothing lost (accepted + duplicates + quarantined = submitted), replay, identity checks."""

from __future__ import annotations

from sqlalchemy import select

from gateway.auth import demo
from gateway.intake import Intake, QuarantineDesk, QuarantineQuery
from gateway.intake.outcome import FileOutcome
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import CSV, by_id, count, ehpad_sender, hl7, stored

EHPAD_CTX = demo.EHPAD_SYSTEM.context(client_id="demo-ehpad")


def test_a_mixed_batch_loses_nothing(intake: Intake, feeding: RecordServices) -> None:
    sender = ehpad_sender()
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    messages = [
        hl7("fr-oru-r01-constantes-ehpad.hl7"),
        hl7("fr-oru-r01-constantes-ehpad.hl7"),  # redelivered
        hl7("ADT-A02-01.hl7"),  # unsupported event: AR
        b"\x00\xff random bytes \x0b\x1c",
        hl7("fr-ras-o17-administration-ucd.hl7"),
    ]
    statuses: list[str] = [intake.hl7v2(m, sender).status for m in messages]
    table = intake.csv((CSV / "vitals-mixed.csv").read_bytes(), "vitals", sender)
    submitted = len(messages) + table.submitted
    counts = {k: statuses.count(k) + table.counts[k] for k in table.counts}
    assert sum(counts.values()) == submitted == 5 + 13
    assert counts["quarantined"] == 2 + 8
    with feeding.store.reader() as tx:
        open_entries = tx.conn.execute(
            select(s.intake_quarantine.c.id).where(s.intake_quarantine.c.reason == "rejected")
        ).all()
    assert len(open_entries) == counts["quarantined"], "every quarantined unit is kept"


def test_a_rejected_record_keeps_its_exact_text_and_location(
    intake: Intake, feeding: RecordServices
) -> None:
    table = intake.csv((CSV / "vitals-mixed.csv").read_bytes(), "vitals", ehpad_sender())
    row = next(r for r in table.rows if r.line == 7)
    assert row.status == "quarantined"
    entry = QuarantineDesk(intake).show(EHPAD_CTX, row.quarantine_id or "")
    assert entry["payload"].endswith("R0043;;15/01/2024;08:10;Poids;soixante;kg\r\n")
    assert entry["payload"].startswith("N° résident;INS;Date")
    (issue,) = entry["issues"]
    assert issue["location"] == ["line 7, column 'Valeur'"]
    assert issue["expression"] == ["Observation.value"]
    assert entry["line"] == 7


def test_replay_after_the_referenced_resident_is_sent(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    table = intake.csv((CSV / "vitals-long.csv").read_bytes(), "vitals", sender)
    assert table.counts["quarantined"] == 7, "the residents are not known yet"
    desk = QuarantineDesk(intake)
    page = desk.search(EHPAD_CTX, QuarantineQuery(kind="csv:vitals", status="open"))
    assert len(page.entries) == 7
    assert "no stored patient" in page.entries[0]["issues"][-1]["diagnostics"]
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    observations = len(stored(feeding, "Observation"))
    results = [desk.replay(EHPAD_CTX, e["id"]) for e in page.entries]
    assert all(isinstance(r, FileOutcome) and r.rows[0].status == "accepted" for r in results)
    assert len(stored(feeding, "Observation")) == observations + 7
    again = desk.search(EHPAD_CTX, QuarantineQuery(kind="csv:vitals", status="open"))
    assert again.entries == []
    # The ledger now answers the file with the replayed outcomes.
    resent = intake.csv((CSV / "vitals-long.csv").read_bytes(), "vitals", sender)
    assert resent.counts["duplicate"] == 7
    assert {r.first_status for r in resent.rows} == {"accepted"}


def test_conflicting_traits_for_one_ins_are_quarantined_with_both_versions(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    intake.hl7v2(hl7("fr-adt-a01-admission-ins.hl7"), sender)
    other = hl7("fr-adt-a01-admission-ins.hl7").replace(b"19400312", b"19410312")
    outcome = intake.hl7v2(other.replace(b"TIL-ADT-000101", b"TIL-ADT-009101"), sender)
    assert (outcome.status, outcome.ack_code) == ("quarantined", "AE")
    assert "205^Duplicate key identifier" in outcome.ack
    entry = QuarantineDesk(intake).show(EHPAD_CTX, outcome.quarantine_id or "")
    assert entry["reason"] == "conflict"
    details = entry["details"]
    assert details["differences"] == ["birthDate"]
    assert details["stored"]["birthDate"] == "1940-03-12"
    assert details["incoming"]["birthDate"] == "1941-03-12"
    (patient,) = [p for p in stored(feeding, "Patient") if "240037505612377" in str(p)]
    assert patient["birthDate"] == "1940-03-12", "nothing overwritten"


def test_a_probable_match_by_traits_is_flagged_not_merged(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    intake.hl7v2(hl7("fr-adt-a01-admission-ins.hl7"), sender)
    # Same person's traits, but a local id only (no INS): never matched on traits.
    twin = hl7("fr-adt-a01-admission-ins.hl7").replace(
        b"240037505612377^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS~", b""
    )
    twin = twin.replace(b"R0042", b"R0142").replace(b"TIL-ADT-000101", b"TIL-ADT-000901")
    twin = twin.replace(b"SEJ-2024-0042", b"SEJ-2024-0142").replace(b"|VALI", b"|PROV")
    outcome = intake.hl7v2(twin, sender)
    assert outcome.status == "accepted", outcome.ack
    assert len(outcome.reviews) == 1
    patients = [p for p in stored(feeding, "Patient") if p.get("birthDate") == "1940-03-12"]
    assert len(patients) == 2, "a new record, not a merge"
    review = QuarantineDesk(intake).show(EHPAD_CTX, outcome.reviews[0])
    assert review["reason"] == "review"
    assert len(review["details"]["candidates"]) == 1
    assert "flagged" not in outcome.ack and "W|" in outcome.ack


def test_discard_erases_the_payload_and_keeps_the_count(
    intake: Intake, feeding: RecordServices
) -> None:
    outcome = intake.hl7v2(b"not hl7 at all", ehpad_sender())
    desk = QuarantineDesk(intake)
    desk.discard(EHPAD_CTX, outcome.quarantine_id or "")
    entry = desk.show(EHPAD_CTX, outcome.quarantine_id or "")
    assert entry["status"] == "discarded" and "payload" not in entry
    assert count(feeding, s.intake_quarantine) == 1
    assert by_id(feeding, "Group/ehpad-residents")["resourceType"] == "Group"


def test_a_refused_row_in_the_middle_of_a_chunk_is_quarantined_and_the_rest_stored(
    intake: Intake, feeding: RecordServices
) -> None:
    # Line 5 names Alice by her INS: she has a record but is no resident, so the rules
    # refuse the write inside the chunk's transaction; the chunk is written without it.
    sender = ehpad_sender()
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    observations = len(stored(feeding, "Observation"))
    lines = ["N° résident;INS;Date;Heure;Paramètre;Valeur;Unité"]
    lines += [f"R0042;;16/01/2024;08:0{n};Pouls;7{n};bpm" for n in range(3)]
    lines += [f"X9999;{demo.PATIENT_INS[0]};16/01/2024;08:05;Pouls;90;bpm"]
    lines += [f"R0043;;16/01/2024;08:0{n};Pouls;8{n};bpm" for n in range(3)]
    table = intake.csv(("\r\n".join(lines) + "\r\n").encode(), "vitals", sender)
    assert [(r.line, r.status) for r in table.rows] == [
        (2, "accepted"),
        (3, "accepted"),
        (4, "accepted"),
        (5, "quarantined"),
        (6, "accepted"),
        (7, "accepted"),
        (8, "accepted"),
    ]
    assert len(stored(feeding, "Observation")) == observations + 6
    refused = table.rows[3]
    assert any("not-in-group" in i.diagnostics for i in refused.issues), refused.issues
    entry = QuarantineDesk(intake).show(EHPAD_CTX, refused.quarantine_id or "")
    assert entry["line"] == 5
    assert entry["payload"] == f"{lines[0]}\r\n{lines[4]}\r\n", "the header, then the row"
    assert table.counts == {"accepted": 6, "duplicate": 0, "quarantined": 1}
