"""Group commit of HL7 v2 messages: shared transactions, outcomes of their own.

A message refused inside a group is rolled back to its savepoint and stored alone
(quarantined, as without a group); its neighbours are stored; a message seen twice in
one group is a duplicate of the first with the same ACK; concurrent senders lose
nothing. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from gateway.auth import demo
from gateway.intake import Intake, MessageOutcome, sender_for
from gateway.intake.group_commit import GroupCommit
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import count, hl7, pharmacist_sender, stored

BRUNO_INS = demo.PATIENT_INS[1]


def _bruno() -> bytes:
    """Alice's dispensation, about Bruno: the pharmacist has no care relationship."""
    bruno = hl7("demo-rds-o13-alice.hl7").replace(b"285037512345688", BRUNO_INS.encode())
    bruno = bruno.replace(b"DUPONT^Alice^Alice", b"LAMBERT^Bruno^Bruno")
    bruno = bruno.replace(b"PHM-20240714-0001", b"PHM-20240714-0002")
    bruno = bruno.replace(b"DISP-0001", b"DISP-0002").replace(b"ORD-2024-0101", b"ORD-2024-0102")
    return bruno.replace(b"19850312|F", b"19620130|M")


def _vitals(n: int) -> bytes:
    """An ORU^R01 about Alice from her physician's software, at a minute of its own."""
    at = (datetime(2024, 3, 1, 8, 0) + timedelta(minutes=n)).strftime("%Y%m%d%H%M%S")
    observer = "|10000000017^MARTIN^Claire^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^RPPS"
    return "\r".join(
        [
            f"MSH|^~\\&|CABINET|CAB DEMO|DMP-GATEWAY|DMP|{at}||ORU^R01^ORU_R01|G-{n:06d}|P|2.5"
            "|||||FRA|UNICODE UTF-8",
            "PID|1||285037512345688^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"
            "||DUPONT^Alice^Alice^^^^L||19850312|F||||||||||||||||||||||||VALI",
            f"OBR|1|||CONST^Constantes^L|||{at}",
            f"OBX|1|NM|FC^Pouls^L||{60 + n % 30}|bpm|||||F|||{at}{observer}",
            f"OBX|2|NM|POIDS^Poids^L||6{n % 9}|kg|||||F|||{at}{observer}",
        ]
    ).encode("utf-8")


def test_a_refused_message_in_a_group_is_quarantined_alone_and_the_others_stored(
    intake: Intake, feeding: RecordServices
) -> None:
    groups = GroupCommit(intake.messages)
    alice = hl7("demo-rds-o13-alice.hl7")
    sender = pharmacist_sender()
    quarantined = count(feeding, s.intake_quarantine)
    first, refused, again = groups.ingest_group(
        [(alice, sender), (_bruno(), sender), (alice, sender)]
    )
    assert groups.groups == 1, "written as one group"
    assert (first.status, first.ack_code) == ("accepted", "AA"), first.ack
    assert (refused.status, refused.ack_code) == ("quarantined", "AE"), refused.ack
    assert "no-relationship" in refused.ack
    assert refused.quarantine_id is not None
    assert count(feeding, s.intake_quarantine) == quarantined + 1
    # The same message twice in one group: the second gets the first's answer.
    assert (again.status, again.first) == ("duplicate", False)
    assert again.ack == first.ack
    dispenses = stored(feeding, "MedicationDispense")
    assert len(dispenses) == 1, "the refused message stored nothing in part"
    assert dispenses[0]["subject"]["reference"] == "Patient/alice"


def test_a_group_answers_as_the_messages_alone_would(
    intake: Intake, feeding: RecordServices
) -> None:
    physician = sender_for(demo.PHYSICIAN.context(client_id="demo-vendor"))
    groups = GroupCommit(intake.messages)
    observations = len(stored(feeding, "Observation"))
    outcomes = groups.ingest_group([(_vitals(n), physician) for n in range(3)])
    assert groups.groups == 1
    assert [o.ack_code for o in outcomes] == ["AA", "AA", "AA"]
    alone = intake.messages.ingest(_vitals(3), physician)
    assert alone.ack_code == "AA"
    for outcome in [*outcomes, alone]:
        kinds = sorted(w.resource_type for w in outcome.written if w.status == "created")
        assert kinds == ["DiagnosticReport", "Observation", "Observation"], outcome.ack
        assert outcome.provenance is not None
    assert len({o.provenance for o in [*outcomes, alone]}) == 4, "one Provenance per message"
    assert len(stored(feeding, "Observation")) == observations + 2 * 4
    replayed = groups.ingest_group([(_vitals(n), physician) for n in range(4)])
    assert [o.status for o in replayed] == ["duplicate"] * 4
    assert [o.ack for o in replayed] == [o.ack for o in [*outcomes, alone]]


def test_concurrent_senders_lose_nothing(intake: Intake, feeding: RecordServices) -> None:
    physician = sender_for(demo.PHYSICIAN.context(client_id="demo-vendor"))
    observations = len(stored(feeding, "Observation"))
    ledger = count(feeding, s.intake_message)
    outcomes: list[MessageOutcome] = []
    lock = threading.Lock()

    def send(k: int) -> None:
        for n in range(k, 24, 4):
            outcome = intake.hl7v2(_vitals(n), physician)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status for o in outcomes) == ["accepted"] * 24
    assert len(stored(feeding, "Observation")) == observations + 2 * 24
    assert count(feeding, s.intake_message) == ledger + 24
    assert len({o.key for o in outcomes}) == 24
