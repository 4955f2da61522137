"""The same key, another content: a correction updates, a plain conflict is quarantined.

A natural key (patient, code, time) says which fact a payload is about; only the same
clinical content (value, unit, status) makes it a duplicate (gateway.intake.facts).
"""

from __future__ import annotations

from typing import Any

from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.intake import Intake, QuarantineDesk
from gateway.intake.facts import check_facts
from gateway.intake.hidden import may_read
from gateway.intake.outcome import MessageOutcome
from gateway.intake.patient_index import TxPatientIndex, group_loader
from gateway.intake.plan import plan
from gateway.intake.unit import write_unit
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import CSV, count, ehpad_sender, hl7, pharmacist_sender, stored
from .test_intake_idempotency import EHPAD_CTX

ORU = hl7("fr-oru-r01-constantes-ehpad.hl7")
PULSE = b"OBX|2|NM|FC^Pouls^L||72|bpm|||||F|||20240115080000"
VITALS_HEADER = "Num. résident,Date,Heure,Paramètre,Valeur,Unité,Soignant,RPPS\n"


def _message(control_id: str, *obx: str) -> bytes:
    """The ORU fixture under a new MSH-10, its OBX segments replaced by ``obx``."""
    segments = ORU.replace(b"\n", b"\r").split(b"\r")
    kept = [seg for seg in segments if seg[:3] in (b"MSH", b"PID", b"OBR")]
    kept[0] = kept[0].replace(b"TIL-ORU-001207", control_id.encode())
    return b"\r".join([*kept, *(o.encode() for o in obx)]) + b"\r"


def _pulse(value: str, status: str, when: str = "20240115080000", n: int = 1) -> str:
    return f"OBX|{n}|NM|FC^Pouls^L||{value}|bpm|||||{status}|||{when}"


def _pulses(services: RecordServices, when: str = "2024-01-15T08:00:00+01:00") -> list[Any]:
    return [
        o
        for o in stored(services, "Observation")
        if any(c.get("code") == "8867-4" for c in o["code"]["coding"])
        and o.get("effectiveDateTime") == when
    ]


def _setup(intake: Intake) -> None:
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", ehpad_sender())


def test_another_value_without_a_correction_is_a_quarantined_conflict(
    intake: Intake, feeding: RecordServices
) -> None:
    _setup(intake)
    sender = ehpad_sender()
    assert intake.hl7v2(ORU, sender).ack_code == "AA"
    versions = count(feeding)
    out = intake.hl7v2(_message("C-120", _pulse("120", "F")), sender)
    assert (out.status, out.ack_code) == ("quarantined", "AE")
    assert "MSA|AE|C-120" in out.ack
    assert "ERR||OBX^1|205^" in out.ack, out.ack
    assert "GW-4115" in out.ack
    assert count(feeding) == versions, "nothing written"
    [pulse] = _pulses(feeding)
    assert (pulse["valueQuantity"]["value"], pulse["status"]) == (72, "final")
    entry = QuarantineDesk(intake).show(EHPAD_CTX, out.quarantine_id or "")
    assert entry["reason"] == "conflict"
    details = entry["details"]
    assert details["stored"]["value"] == 72 and details["incoming"]["value"] == 120
    assert details["stored"]["status"] == details["incoming"]["status"] == "final"
    assert details["stored"]["unit"] == details["incoming"]["unit"] == "bpm"
    # the same value again (new MSH-10) is still a duplicate
    same = intake.hl7v2(_message("C-72", _pulse("72", "F")), sender)
    assert (same.status, same.ack_code) == ("duplicate", "AA")


def test_preliminary_then_final_updates_the_observation(
    intake: Intake, feeding: RecordServices
) -> None:
    _setup(intake)
    sender = ehpad_sender()
    when = "20240801080000"
    first = intake.hl7v2(_message("P-101", _pulse("101", "P", when)), sender)
    assert first.status == "accepted"
    [ref] = [w.reference for w in first.written if w.resource_type == "Observation"]
    final = intake.hl7v2(_message("F-105", _pulse("105", "F", when)), sender)
    assert (final.status, final.ack_code) == ("accepted", "AA")
    assert [w.reference for w in final.written if w.resource_type == "Observation"] == [ref]
    assert any(w.status == "updated" for w in final.written)
    [pulse] = _pulses(feeding, "2024-08-01T08:00:00+02:00")
    assert (pulse["valueQuantity"]["value"], pulse["status"]) == (105, "final")
    assert pulse["meta"]["versionId"] == "2" and pulse["id"] == ref.split("/")[1]
    provenances = [p for p in stored(feeding, "Provenance") if {"reference": ref} in p["target"]]
    assert len(provenances) == 2, "each version has its Provenance"
    # a preliminary after the final is not a correction: a conflict
    late = intake.hl7v2(_message("P-99", _pulse("99", "P", when)), sender)
    assert late.status == "quarantined"


def test_correction_and_retraction_update_the_observation(
    intake: Intake, feeding: RecordServices
) -> None:
    _setup(intake)
    sender = ehpad_sender()
    intake.hl7v2(ORU, sender)
    corrected = intake.hl7v2(_message("C-75", _pulse("75", "C")), sender)
    assert (corrected.status, corrected.ack_code) == ("accepted", "AA")
    [pulse] = _pulses(feeding)
    assert (pulse["valueQuantity"]["value"], pulse["status"]) == (75, "corrected")
    retracted = intake.hl7v2(_message("W-75", _pulse("75", "W")), sender)
    assert retracted.status == "accepted"
    [pulse] = _pulses(feeding)
    assert pulse["status"] == "entered-in-error" and pulse["meta"]["versionId"] == "3"
    again = intake.hl7v2(_message("W-75b", _pulse("75", "W")), sender)
    assert again.status == "duplicate"


def test_two_readings_in_one_message_are_a_conflict(
    intake: Intake, feeding: RecordServices
) -> None:
    _setup(intake)
    out = intake.hl7v2(
        _message("TWO", _pulse("88", "F", n=1), _pulse("95", "F", n=2)), ehpad_sender()
    )
    assert (out.status, out.ack_code) == ("quarantined", "AE")
    assert "ERR||OBX^2|205^" in out.ack, out.ack
    assert _pulses(feeding) == []


def test_csv_another_value_is_a_quarantined_row(intake: Intake, feeding: RecordServices) -> None:
    _setup(intake)
    sender = ehpad_sender()
    intake.hl7v2(ORU, sender)
    table = intake.csv(
        (
            VITALS_HEADER + "R0042,15/01/2024,08:00,Pouls,150,bpm,Camille LEROY,10019876548\n"
        ).encode(),
        "vitals",
        sender,
    )
    assert table.counts == {"accepted": 0, "duplicate": 0, "quarantined": 1}
    [row] = table.rows
    assert row.quarantine_id
    entry = QuarantineDesk(intake).show(EHPAD_CTX, row.quarantine_id)
    assert entry["reason"] == "conflict"
    assert entry["details"]["incoming"]["value"] == 150
    [pulse] = _pulses(feeding)
    assert pulse["valueQuantity"]["value"] == 72


def test_csv_two_values_in_one_file(intake: Intake, feeding: RecordServices) -> None:
    _setup(intake)
    body = (
        VITALS_HEADER
        + "R0042,15/01/2024,08:00,Pouls,72,bpm,Camille LEROY,10019876548\n"
        + "R0042,15/01/2024,08:00,Pouls,99,bpm,Camille LEROY,10019876548\n"
    )
    table = intake.csv(body.encode(), "vitals", ehpad_sender())
    assert table.counts == {"accepted": 1, "duplicate": 0, "quarantined": 1}
    assert [r.status for r in table.rows] == ["accepted", "quarantined"]
    assert sum(table.counts.values()) == 2


def test_administration_with_another_dose_unit_is_a_conflict(
    intake: Intake, feeding: RecordServices
) -> None:
    _setup(intake)
    sender = ehpad_sender()
    ras = hl7("fr-ras-o17-administration-ucd.hl7")
    assert intake.hl7v2(ras, sender).status == "accepted"
    lines = (CSV / "administrations.csv").read_bytes().decode("utf-8-sig").splitlines()
    changed = lines[1].replace(";1;gélule;", ";2;comprimé;")
    assert changed != lines[1]
    table = intake.csv(f"{lines[0]}\n{changed}\n".encode(), "administrations", sender)
    assert table.counts["quarantined"] == 1, table.rows
    same = intake.csv(f"{lines[0]}\n{lines[1]}\n".encode(), "administrations", sender)
    assert same.counts["duplicate"] == 1


def test_administration_entered_in_error_updates(intake: Intake, feeding: RecordServices) -> None:
    _setup(intake)
    sender = ehpad_sender()
    ras = hl7("fr-ras-o17-administration-ucd.hl7")
    first = intake.hl7v2(ras, sender)
    retracted = ras.replace(b"TIL-RAS-000555", b"TIL-RAS-000556").replace(
        b"||||||||||CP\r", b"||||||||||CP|D\r", 1
    )
    assert retracted != ras
    out = intake.hl7v2(retracted, sender)
    assert isinstance(out, MessageOutcome) and out.status == "accepted", out.ack
    statuses = sorted(a["status"] for a in stored(feeding, "MedicationAdministration"))
    assert "entered-in-error" in statuses
    assert len(statuses) == len(
        [w for w in first.written if w.resource_type == "MedicationAdministration"]
    )
    assert count(feeding, s.intake_quarantine) == 0


def test_a_sender_without_rights_learns_nothing_of_the_stored_facts(
    intake: Intake, feeding: RecordServices
) -> None:
    """A pharmacist (no care relationship with the resident, no right to write her vital
    signs) restating a stored message, as it is or with another pulse, gets what a
    message stored nowhere gets: the access rules' refusal. Never 'duplicate' (AA), never
    a conflict showing the stored value."""
    _setup(intake)
    assert intake.hl7v2(ORU, ehpad_sender()).ack_code == "AA"
    versions = count(feeding)
    outsider = pharmacist_sender()
    restated = {
        "same": ORU,
        "other": ORU.replace(PULSE, PULSE.replace(b"||72|", b"||120|")),
        "nowhere": ORU.replace(b"20240115", b"20240116"),
    }
    assert len(set(restated.values())) == 3
    answers = {
        label: intake.hl7v2(payload.replace(b"TIL-ORU-001207", f"P-{label}".encode()), outsider)
        for label, payload in restated.items()
    }
    shapes = {
        label: (out.status, out.ack_code, out.ack.split("ERR|")[1].split("|")[2][:4])
        for label, out in answers.items()
    }
    assert shapes["same"] == shapes["other"] == shapes["nowhere"], shapes
    assert shapes["nowhere"][:2] == ("quarantined", "AE")
    for out in answers.values():
        assert "GW-4115" not in out.ack and "GW-2003" in out.ack, out.ack
    assert count(feeding) == versions, "nothing written"


def test_a_stored_fact_hidden_from_the_sender_is_no_match(
    intake: Intake, feeding: RecordServices
) -> None:
    """The facts stage judges against what the sender may read (gateway.intake.hidden):
    a hidden stored pulse is neither a conflict nor a duplicate; the write decides."""
    _setup(intake)
    sender = ehpad_sender()
    assert intake.hl7v2(ORU, sender).ack_code == "AA"
    other = ORU.replace(PULSE, PULSE.replace(b"||72|", b"||120|"))
    result = parse_hl7v2(
        other.replace(b"TIL-ORU-001207", b"H-1"), sender.source, intake.messages.terminology
    )
    with write_unit(feeding) as unit:
        index = TxPatientIndex(unit.tx, feeding)
        index.prefetch(result.patient_keys)
        planned = plan({0: result}, sender.ctx, index, group_loader(unit.tx))
        results = {0: planned.items[0].result}
        seen = check_facts(unit, results, may_read(unit, sender, planned))
        hidden = check_facts(unit, results, lambda item, version: False)
    assert list(seen.conflicts) == [0], "readable: the conflict is found"
    assert not hidden.conflicts and not hidden.updates
