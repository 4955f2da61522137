"""Nothing lost (accepted + duplicates + quarantined = submitted), replay, identity checks."""

from __future__ import annotations

import hashlib

import orjson
from sqlalchemy import select

from gateway.access.context import AccessContext
from gateway.auth import demo
from gateway.intake import Intake, QuarantineDesk, QuarantineQuery
from gateway.intake.outcome import FileOutcome
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage import schema as s

from .support import CSV, by_id, count, dev_sender, ehpad_sender, hl7, stored

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


def test_a_replayed_record_keeps_its_line_and_the_column_of_its_unknown_measurement(
    intake: Intake, feeding: RecordServices
) -> None:
    """A replay parses the header then the record, a 2-line text: its issues still
    name the record's line in the file sent, and the column that holds the label."""
    sender = ehpad_sender()
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    lines = ["Num. résident,Date,Heure,Paramètre,Valeur,Unité"]
    lines += ["R0042,16/01/2024,07:00,Pouls,70,bpm"]
    lines += ["R0042,16/01/2024,08:00,Foo,70,bpm"]
    table = intake.csv(("\r\n".join(lines) + "\r\n").encode(), "vitals", sender)
    assert [(r.line, r.status) for r in table.rows] == [(2, "accepted"), (3, "quarantined")]
    desk = QuarantineDesk(intake)
    entry_id = table.rows[1].quarantine_id or ""
    first = desk.show(EHPAD_CTX, entry_id)
    assert first["line"] == 3
    assert [i["location"] for i in first["issues"]] == [["line 3, column 'Paramètre'"]]
    assert first["payload"] == f"{lines[0]}\r\n{lines[2]}\r\n"
    replayed = desk.replay(EHPAD_CTX, entry_id)
    assert isinstance(replayed, FileOutcome)
    assert [(r.line, r.status) for r in replayed.rows] == [(3, "quarantined")]
    assert [str(i.location) for i in replayed.rows[0].issues] == ["line 3, column 'Paramètre'"]
    again = desk.show(EHPAD_CTX, entry_id)
    assert again["line"] == 3
    assert [i["location"] for i in again["issues"]] == [["line 3, column 'Paramètre'"]]
    assert "unknown measurement 'Foo'" in again["issues"][0]["diagnostics"]


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


def _pulse(value: int, *, update_of_v1: str | None = None) -> dict[str, object]:
    resource: dict[str, object] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/gaston"},
        "effectiveDateTime": "2026-03-01T08:00:00+01:00",
        "valueQuantity": {
            "value": value,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }
    if update_of_v1 is None:
        return {"request": {"method": "POST", "url": "Observation"}, "resource": resource}
    # An update of version 1, which fails until that version exists.
    return {
        "request": {"method": "PUT", "url": f"Observation/{update_of_v1}", "ifMatch": 'W/"1"'},
        "resource": {**resource, "id": update_of_v1},
    }


def _pulses(services: RecordServices) -> list[int]:
    return sorted(
        o["valueQuantity"]["value"]
        for o in stored(services, "Observation")
        if o["code"]["coding"][0]["code"] == "8867-4" and "valueQuantity" in o
    )


def test_a_batch_keeps_only_its_failed_entries_and_a_replay_never_stores_twice(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = dev_sender()
    desk_ctx = AccessContext.dev_open()
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [_pulse(71), _pulse(72, update_of_v1="pulse-72"), _pulse(73)],
    }
    payload = orjson.dumps(batch)
    before = _pulses(feeding)
    provenances = len(stored(feeding, "Provenance"))
    first = intake.fhir(payload, sender, name="pulses.json")
    assert [(r.line, r.status) for r in first.rows] == [
        (1, "accepted"),
        (2, "quarantined"),
        (3, "accepted"),
    ], "the outcome entry by entry, as the CLI summary counts it"
    row = first.rows[1]
    assert first.rows[0].quarantine_id is None and first.rows[2].issues == ()
    assert _pulses(feeding) == sorted([*before, 71, 73]), "the good entries are stored"
    (prov_id,) = first.provenance
    assert len(stored(feeding, "Provenance")) == provenances + 1
    prov = next(p for p in stored(feeding, "Provenance") if p["id"] == prov_id)
    assert len(prov["target"]) == 2, "the stored entries have their Provenance"
    desk = QuarantineDesk(intake)
    entry = desk.show(desk_ctx, row.quarantine_id or "")
    kept = orjson.loads(entry["payload"])
    assert [e["resource"]["valueQuantity"]["value"] for e in kept["entry"]] == [72]
    assert kept["type"] == "batch"
    assert entry["details"]["fileEntries"] == [1]
    assert entry["details"]["fileSha256"] == hashlib.sha256(payload).hexdigest()
    (issue,) = entry["issues"]
    assert issue["expression"] == ["Bundle.entry[0]"]
    # As the REST answer said it: its diagnostics and its gateway code (If-Match failed).
    assert "If-Match" in issue["diagnostics"]
    assert issue["details"]["coding"][0]["code"] == "GW-3012"

    # Still failing: the same entry is updated; nothing stored twice, no new entry.
    again = desk.replay(desk_ctx, entry["id"])
    assert isinstance(again, FileOutcome)
    assert again.rows[0].status == "quarantined"
    assert again.rows[0].quarantine_id == entry["id"]
    assert count(feeding, s.intake_quarantine) == 1
    assert _pulses(feeding) == sorted([*before, 71, 73])
    assert desk.show(desk_ctx, entry["id"])["attempts"] == 2

    # Once version 1 exists, the replay stores the one missing entry, and only it.
    repo = Repository(AccessContext.dev_open(), feeding)
    v1 = _pulse(70, update_of_v1="pulse-72")["resource"]
    dispatch(FhirRequest("PUT", ["Observation", "pulse-72"], resource=v1, base=""), repo)
    done = desk.replay(desk_ctx, entry["id"])
    assert isinstance(done, FileOutcome)
    assert done.rows[0].status == "accepted"
    assert _pulses(feeding) == sorted([*before, 71, 72, 73])
    assert desk.show(desk_ctx, entry["id"])["status"] == "replayed"
    assert count(feeding, s.intake_quarantine) == 1
    # The file, sent again, is a duplicate whose outcome is now the replay's.
    resent = intake.fhir(payload, sender, name="pulses.json")
    assert resent.rows[0].status == "duplicate"
    assert resent.rows[0].first_status == "accepted"
    assert _pulses(feeding) == sorted([*before, 71, 72, 73])


def test_a_file_sent_as_the_wrong_kind_is_kept_once_not_once_per_record(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    versions = count(feeding)
    payload = (CSV / "vitals-long.csv").read_bytes()
    outcome = intake.csv(payload, "administrations", sender, name="vitals.csv")
    assert outcome.unreadable and outcome.rows == ()
    assert any("column" in i.diagnostics for i in outcome.issues if i.is_error)
    assert count(feeding) == versions, "nothing stored"
    assert count(feeding, s.intake_quarantine) == 1, "one entry: the file"
    kept = QuarantineDesk(intake).show(EHPAD_CTX, outcome.file_quarantine or "")
    assert kept["payload"].encode("utf-8") == payload
    again = intake.csv(payload, "administrations", sender, name="vitals.csv")
    assert again.file_quarantine == outcome.file_quarantine
    assert count(feeding, s.intake_quarantine) == 1


def test_training_and_debugging_messages_are_quarantined_not_stored(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    versions = count(feeding)
    quarantined = count(feeding, s.intake_quarantine)
    for n, processing in enumerate(("T", "D", "X")):
        payload = hl7("fr-adt-a01-admission-ins.hl7").replace(
            b"|TIL-ADT-000101|P|", f"|TIL-ADT-00010{n + 2}|{processing}|".encode()
        )
        outcome = intake.hl7v2(payload, sender)
        assert (outcome.status, outcome.ack_code) == ("quarantined", "AR")
        err = next(seg for seg in outcome.ack.split("\r") if seg.startswith("ERR|")).split("|")
        assert err[2:4] == ["MSH^1^11^1", "202^Unsupported processing id^HL70357"]
    assert count(feeding) == versions, "nothing written as production data"
    assert count(feeding, s.intake_quarantine) == quarantined + 3


def test_an_unreadable_message_is_acked_with_its_control_id_and_its_fix_processed(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    good = hl7("fr-adt-a01-admission-ins.hl7")
    bad = good.replace(b"MSH|^~\\&|", b"MSH|^~|", 1)
    outcome = intake.hl7v2(bad, sender)
    assert (outcome.status, outcome.ack_code) == ("quarantined", "AR")
    assert "MSA|AR|TIL-ADT-000101|" in outcome.ack
    # The corrected message, same control id, is processed: not a reused id.
    fixed = intake.hl7v2(good, sender)
    assert (fixed.status, fixed.ack_code) == ("accepted", "AA"), fixed.ack
