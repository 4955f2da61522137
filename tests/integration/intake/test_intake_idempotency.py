"""Idempotency (same message twice) and cross-channel dedup (same fact twice), both back-ends."""

from __future__ import annotations

from typing import Any

from gateway.auth import demo
from gateway.intake import Intake, QuarantineDesk
from gateway.intake.outcome import MessageOutcome
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import CSV, count, ehpad_sender, hl7, pharmacist_sender, stored

EHPAD_CTX = demo.EHPAD_SYSTEM.context(client_id="demo-ehpad")


def test_same_message_twice_writes_nothing_and_returns_the_first_ack(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    intake.hl7v2(hl7("fr-adt-a01-admission-ins.hl7"), sender)
    first = intake.hl7v2(hl7("fr-oru-r01-constantes-ehpad.hl7"), sender)
    versions = count(feeding)
    ledger_rows = count(feeding, s.intake_message)
    again = intake.hl7v2(hl7("fr-oru-r01-constantes-ehpad.hl7"), sender)
    assert count(feeding) == versions, "no new resource version"
    assert count(feeding, s.intake_message) == ledger_rows
    assert again.ack_bytes == first.ack_bytes, "the first ACK, byte for byte"
    assert (again.status, again.first, again.first_status) == ("duplicate", False, "accepted")
    assert again.provenance == first.provenance


def test_a_quarantined_message_sent_twice_is_quarantined_once(
    intake: Intake, feeding: RecordServices
) -> None:
    garbage = b"MSH|^~\\&|X|Y|||20240101||ZZZ^Z99|C1|P|2.5\rPID|1"
    first = intake.hl7v2(garbage, ehpad_sender())
    again = intake.hl7v2(garbage, ehpad_sender())
    assert first.ack_code == again.ack_code == "AR"
    assert again.ack == first.ack and again.quarantine_id == first.quarantine_id
    assert count(feeding, s.intake_quarantine) == 1


def test_a_message_rejected_whole_is_processed_when_resent_corrected_with_its_control_id(
    intake: Intake, feeding: RecordServices
) -> None:
    """A training message (MSH-11 T) is refused whole (AR 202); the sender's engine
    resends it as P with the same MSH-10: that is not a reused control id (AR 205) but
    the message, processed."""
    sender = ehpad_sender()
    intake.hl7v2(hl7("fr-adt-a01-admission-ins.hl7"), sender)
    production = hl7("fr-oru-r01-constantes-ehpad.hl7")
    training = production.replace(b"|P|2.5", b"|T|2.5", 1)
    assert training != production
    refused = intake.hl7v2(training, sender)
    assert refused.ack_code == "AR" and "|202^" in refused.ack, refused.ack
    assert intake.hl7v2(training, sender).ack == refused.ack, "unchanged: the first ACK"
    corrected = intake.hl7v2(production, sender)
    assert (corrected.status, corrected.ack_code) == ("accepted", "AA"), corrected.ack


def test_same_file_twice_is_all_duplicates(intake: Intake, feeding: RecordServices) -> None:
    sender = ehpad_sender()
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    first = intake.csv((CSV / "vitals-long.csv").read_bytes(), "vitals", sender)
    versions = count(feeding)
    again = intake.csv((CSV / "vitals-long.csv").read_bytes(), "vitals", sender)
    assert first.counts["accepted"] == 7
    assert again.counts == {"accepted": 0, "duplicate": 7, "quarantined": 0}
    assert count(feeding) == versions
    assert all(r.first_response and r.first_response["status"] == "accepted" for r in again.rows)


def test_the_same_vital_from_hl7_and_csv_is_one_observation(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    before = len(stored(feeding, "Observation"))
    hl7_outcome = intake.hl7v2(hl7("fr-oru-r01-constantes-ehpad.hl7"), sender)
    after_hl7 = len(stored(feeding, "Observation"))
    assert after_hl7 - before == 8
    table = intake.csv((CSV / "vitals-long.csv").read_bytes(), "vitals", sender)
    # vitals-long.csv repeats R0042's pulse and temperature of 2024-01-15 08:00 (HL7
    # OBX 2 and 3): the same facts, deduplicated on their natural key.
    duplicates = [r.line for r in table.rows if r.status == "duplicate"]
    assert len(duplicates) >= 2
    hl7_pulse = {w.reference for w in hl7_outcome.written if w.resource_type == "Observation"}
    csv_refs = {
        w.reference
        for r in table.rows
        if r.status == "duplicate"
        for w in r.written
        if w.resource_type == "Observation"
    }
    assert csv_refs <= hl7_pulse and csv_refs, "the CSV rows point at the HL7 Observations"
    added = len(stored(feeding, "Observation")) - after_hl7
    assert added == table.counts["accepted"] * 1


def test_the_same_administration_from_hl7_and_csv_is_one_resource(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    intake.csv((CSV / "residents.csv").read_bytes(), "residents", sender)
    intake.hl7v2(hl7("fr-ras-o17-administration-ucd.hl7"), sender)
    administrations = len(stored(feeding, "MedicationAdministration"))
    table = intake.csv((CSV / "administrations.csv").read_bytes(), "administrations", sender)
    assert [r.status for r in table.rows][:2] == ["duplicate", "duplicate"]
    assert len(stored(feeding, "MedicationAdministration")) == administrations + 3


def test_the_same_dispensation_in_two_messages_is_one_resource(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = pharmacist_sender()
    first = intake.hl7v2(hl7("demo-rds-o13-alice.hl7"), sender)
    resent = hl7("demo-rds-o13-alice.hl7").replace(b"PHM-20240714-0001", b"PHM-20240714-0901")
    second = intake.hl7v2(resent, sender)
    assert (first.status, second.status) == ("accepted", "duplicate")
    assert second.first, "a new message (new MSH-10), whose facts were all known"
    assert len(stored(feeding, "MedicationDispense")) == 1
    assert len(stored(feeding, "Medication")) == 1
    assert len(stored(feeding, "Provenance")) == 2, "each message is attested"


def test_the_same_message_delivered_concurrently_is_stored_once(
    intake: Intake, feeding: RecordServices
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sender = ehpad_sender()
    intake.hl7v2(hl7("fr-adt-a01-admission-ins.hl7"), sender)
    message = hl7("fr-oru-r01-constantes-ehpad.hl7")
    before = len(stored(feeding, "Observation"))
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: intake.hl7v2(message, sender), range(4)))
    assert sorted(o.status for o in outcomes) == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert len({o.ack for o in outcomes}) == 1
    assert len(stored(feeding, "Observation")) == before + 8


def test_a_reused_control_id_is_refused_and_kept_never_acknowledged_as_the_first(
    intake: Intake, feeding: RecordServices
) -> None:
    sender = ehpad_sender()
    intake.hl7v2(hl7("fr-adt-a01-admission-ins.hl7"), sender)
    original = hl7("fr-oru-r01-constantes-ehpad.hl7")
    first = intake.hl7v2(original, sender)
    assert first.ack_code == "AA"
    # Another message (the next round of vitals, a pulse of 95 at 10:00) under the same
    # control id TIL-ORU-001207.
    other = original.replace(b"|72|bpm|", b"|95|bpm|").replace(b"20240115080000", b"20240115100000")
    versions = count(feeding)
    reused = intake.hl7v2(other, sender)
    assert reused.status == "quarantined" and reused.ack_code == "AR"
    assert reused.ack != first.ack
    assert "|205^" in reused.ack and "MSA|AR|TIL-ORU-001207" in reused.ack
    assert count(feeding) == versions, "nothing of it is applied"
    desk = QuarantineDesk(intake)
    kept = desk.show(EHPAD_CTX, reused.quarantine_id or "")
    assert kept["payload"].encode() == other.decode("utf-8").encode()
    assert kept["issues"][0]["expression"] == ["MSH-10"]

    # Sent again, it is a duplicate of its own refusal; the original, resent with a new
    # sending time (MSH-7), is still a duplicate of the original.
    again = intake.hl7v2(other, sender)
    assert (again.status, again.ack, again.quarantine_id) == (
        "duplicate",
        reused.ack,
        reused.quarantine_id,
    )
    restamped = original.replace(b"|20240115083500|", b"|20240115090000|", 1)
    resent = intake.hl7v2(restamped, sender)
    assert (resent.status, resent.ack) == ("duplicate", first.ack)
    assert count(feeding, s.intake_quarantine) == 1

    # The operator replays it: it is processed under its own key, and the original's
    # record is untouched.
    replayed = desk.replay(EHPAD_CTX, reused.quarantine_id or "")
    assert isinstance(replayed, MessageOutcome) and replayed.ack_code == "AA"
    assert 95 in [o["valueQuantity"]["value"] for o in _pulses(feeding)]
    assert intake.hl7v2(original, sender).ack == first.ack
    assert intake.hl7v2(other, sender).status == "duplicate"


def _pulses(services: RecordServices) -> list[dict[str, Any]]:
    return [
        o
        for o in stored(services, "Observation")
        if any(c.get("code") == "8867-4" for c in o["code"]["coding"]) and "valueQuantity" in o
    ]
