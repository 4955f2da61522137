"""Reports, dispensations and orders: a superseding status updates, another content conflicts.

A DiagnosticReport (OBR-3), a MedicationDispense (ORC-3 + RXD-1) or a MedicationRequest
(ORC-2) named again by its business identifier is the same fact only if it says the same
thing (gateway.intake.facts); a changed content was once acknowledged AA and dropped.
"""

from __future__ import annotations

from typing import Any

from gateway.auth import demo
from gateway.intake import Intake, QuarantineDesk, sender_for
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import CSV, count, ehpad_sender, hl7, pharmacist_sender, stored
from .test_intake_idempotency import EHPAD_CTX

ORU = hl7("fr-oru-r01-constantes-ehpad.hl7")
RDS = hl7("demo-rds-o13-alice.hl7")
RDE = hl7("demo-rde-o11-alice.hl7")


def _oru(control_id: str, report: str, obx: str, code: str = "CONST^Constantes^L") -> bytes:
    """The ORU fixture under a new MSH-10: one OBR numbered RPT-7 with OBR-25 ``report``."""
    segments = ORU.replace(b"\n", b"\r").split(b"\r")
    kept = [seg for seg in segments if seg[:3] in (b"MSH", b"PID")]
    kept[0] = kept[0].replace(b"TIL-ORU-001207", control_id.encode())
    obr = f"OBR|1||RPT-7^TITAN|{code}|||20240801080000" + "|" * 18 + report
    return b"\r".join([*kept, obr.encode(), obx.encode()]) + b"\r"


def _pulse(value: str, status: str) -> str:
    return f"OBX|1|NM|FC^Pouls^L||{value}|bpm|||||{status}|||20240801080000"


def _reports(services: RecordServices) -> list[dict[str, Any]]:
    return [
        r
        for r in stored(services, "DiagnosticReport")
        if any(i.get("value") == "RPT-7" for i in r.get("identifier", []))
    ]


def _setup(intake: Intake) -> None:
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", ehpad_sender())


def test_report_preliminary_then_final_then_corrected_updates_it(
    intake: Intake, feeding: RecordServices
) -> None:
    _setup(intake)
    sender = ehpad_sender()
    first = intake.hl7v2(_oru("R-P", "P", _pulse("101", "P")), sender)
    assert first.status == "accepted", first.ack
    [report] = _reports(feeding)
    assert report["status"] == "preliminary"
    final = intake.hl7v2(_oru("R-F", "F", _pulse("105", "F")), sender)
    assert (final.status, final.ack_code) == ("accepted", "AA"), final.ack
    [ref] = [w.reference for w in final.written if w.resource_type == "DiagnosticReport"]
    assert ref == f"DiagnosticReport/{report['id']}"
    [report] = _reports(feeding)
    assert (report["status"], report["meta"]["versionId"]) == ("final", "2")
    [obs] = [w.reference for w in final.written if w.resource_type == "Observation"]
    assert report["result"] == [{"reference": obs}]
    # the report corrected (OBR-25 C), its result unchanged: a third version
    corrected = intake.hl7v2(_oru("R-C", "C", _pulse("105", "F")), sender)
    assert corrected.status == "accepted", corrected.ack
    [report] = _reports(feeding)
    assert (report["status"], report["meta"]["versionId"]) == ("corrected", "3")
    again = intake.hl7v2(_oru("R-C2", "C", _pulse("105", "F")), sender)
    assert again.status == "duplicate"


def test_report_with_another_code_or_an_earlier_status_is_a_conflict(
    intake: Intake, feeding: RecordServices
) -> None:
    _setup(intake)
    sender = ehpad_sender()
    assert intake.hl7v2(_oru("R-F", "F", _pulse("72", "F")), sender).status == "accepted"
    versions = count(feeding)
    other = intake.hl7v2(_oru("R-X", "F", _pulse("72", "F"), "BIO^Bilan^L"), sender)
    assert (other.status, other.ack_code) == ("quarantined", "AE")
    assert "ERR||OBR^1|205^" in other.ack, other.ack
    assert "GW-4115" in other.ack
    entry = QuarantineDesk(intake).show(EHPAD_CTX, other.quarantine_id or "")
    assert entry["reason"] == "conflict"
    assert entry["details"]["resourceType"] == "DiagnosticReport"
    assert entry["details"]["differences"] == ["code"]
    late = intake.hl7v2(_oru("R-P", "P", _pulse("72", "F")), sender)
    assert late.status == "quarantined", "a preliminary after the final"
    assert count(feeding) == versions, "nothing written"
    [report] = _reports(feeding)
    assert (report["status"], report["meta"]["versionId"]) == ("final", "1")


def test_dispensation_with_another_quantity_or_medication_is_a_conflict(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = pharmacist_sender()
    assert intake.hl7v2(RDS, sender).status == "accepted"
    versions = count(feeding)
    more = RDS.replace(b"PHM-20240714-0001", b"PHM-20240714-0902").replace(
        b"|20240714103000|2|", b"|20240714103000|3|"
    )
    assert more != RDS
    out = intake.hl7v2(more, sender)
    assert (out.status, out.ack_code) == ("quarantined", "AE"), out.ack
    assert "ERR||RXD^1|205^" in out.ack, out.ack
    other = RDS.replace(b"PHM-20240714-0001", b"PHM-20240714-0903").replace(
        b"RXD|1|3400933516390^PARACETAMOL MYLAN 500 mg", b"RXD|1|3400930000007^ZOPICLONE 7,5 mg"
    )
    assert other != RDS
    out = intake.hl7v2(other, sender)
    assert out.status == "quarantined", out.ack
    entry = QuarantineDesk(intake).show(
        demo.PHARMACIST.context(client_id="demo-vendor"), out.quarantine_id or ""
    )
    assert entry["details"]["differences"] == ["medication"]
    assert count(feeding) == versions, "nothing written"
    [dispense] = stored(feeding, "MedicationDispense")
    assert dispense["quantity"]["value"] == 2
    same = intake.hl7v2(RDS.replace(b"PHM-20240714-0001", b"PHM-20240714-0904"), sender)
    assert same.status == "duplicate"


def test_a_changed_order_replaces_it_and_a_cancelled_one_is_not_revived(
    intake: Intake, feeding: RecordServices
) -> None:
    physician = sender_for(demo.PHYSICIAN.context(client_id="demo-vendor"))
    first = intake.hl7v2(RDE, physician)
    assert first.status == "accepted", first.ack
    [order] = stored(feeding, "MedicationRequest")
    # XO: the prescriber changes the order (28 tablets instead of 14): a new version.
    changed = (
        RDE.replace(b"CHD-RDE-0001", b"CHD-RDE-0002")
        .replace(b"ORC|NW|", b"ORC|XO|")
        .replace(b"|||14|{tbl}", b"|||28|{tbl}")
    )
    assert b"|||28|" in changed
    out = intake.hl7v2(changed, physician)
    assert (out.status, out.ack_code) == ("accepted", "AA"), out.ack
    [now] = stored(feeding, "MedicationRequest")
    assert (now["id"], now["status"], now["meta"]["versionId"]) == (order["id"], "active", "2")
    assert now["dispenseRequest"]["quantity"]["value"] == 28
    # The same quantity stated again without XO is the same fact; another one is not.
    same = intake.hl7v2(changed.replace(b"CHD-RDE-0002", b"CHD-RDE-0005"), physician)
    assert same.status == "duplicate", same.ack
    restated = RDE.replace(b"CHD-RDE-0001", b"CHD-RDE-0006")
    out = intake.hl7v2(restated, physician)
    assert (out.status, out.ack_code) == ("quarantined", "AE"), out.ack
    assert "ERR||RXE^1|205^" in out.ack and "ORC-1 XO" in out.ack, out.ack
    cancel = RDE.replace(b"CHD-RDE-0001", b"CHD-RDE-0003").replace(
        b"ORC|NW|PRESC-2024-7001^DXCARE|||||||20240110091500",
        b"ORC|CA|PRESC-2024-7001^DXCARE|||||||20240112100000",
    )
    assert b"ORC|CA|" in cancel
    out = intake.hl7v2(cancel, physician)
    assert (out.status, out.ack_code) == ("accepted", "AA"), out.ack
    [now] = stored(feeding, "MedicationRequest")
    assert (now["id"], now["status"], now["meta"]["versionId"]) == (order["id"], "cancelled", "3")
    again = intake.hl7v2(cancel.replace(b"CHD-RDE-0003", b"CHD-RDE-0004"), physician)
    assert again.status == "duplicate"
    # A change of a cancelled order does not revive it.
    revive = changed.replace(b"CHD-RDE-0002", b"CHD-RDE-0007").replace(b"|||28|", b"|||56|")
    out = intake.hl7v2(revive, physician)
    assert (out.status, out.ack_code) == ("quarantined", "AE"), out.ack
    [now] = stored(feeding, "MedicationRequest")
    assert (now["status"], now["meta"]["versionId"]) == ("cancelled", "3")
    assert count(feeding, s.intake_quarantine) == 2
