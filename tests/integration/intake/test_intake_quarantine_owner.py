"""Whose quarantine entry it is: client, structure and the sending professional.

A vendor client carries many professionals of one structure with different rights; a
quarantined payload (identity traits, a document) is its sender's alone.
"""

from __future__ import annotations

import pytest

from gateway.access.context import AccessContext
from gateway.auth import demo
from gateway.errors import NotFound
from gateway.intake import Intake, QuarantineDesk, QuarantineQuery, sender_for
from gateway.intake import quarantine as q
from gateway.record.services import RecordServices

from .support import ehpad_sender, hl7

VENDOR = "demo-vendor"
PHYSICIAN = demo.PHYSICIAN.context(client_id=VENDOR)
DENTIST = demo.DENTIST.context(client_id=VENDOR, patient=demo.PATIENT_INS[0])
NURSE = demo.NURSE.context(client_id=VENDOR)
ADMIN = demo.ADMIN.context()
EHPAD = demo.EHPAD_SYSTEM.context(client_id="demo-ehpad")
# A system token of the vendor client for the hospital (the hospital's own software).
HOSPITAL_SYSTEM = AccessContext(
    kind="system", client_id=VENDOR, subject="chd-sync", structure=demo.HOSPITAL
)


def _physicians_entry(intake: Intake) -> str:
    """The physician sends Alice's document with an invalid birth date (PID-7)."""
    message = hl7("demo-mdm-t02-alice.hl7").replace(b"||19850312|F|", b"||19851399|F|")
    outcome = intake.hl7v2(message, sender_for(PHYSICIAN))
    assert outcome.status == "quarantined", outcome.ack
    return outcome.quarantine_id or ""


def _listed(desk: QuarantineDesk, ctx: AccessContext, **filters: str) -> set[str]:
    return {e["id"] for e in desk.search(ctx, QuarantineQuery(**filters)).entries}  # type: ignore[arg-type]


def test_another_professional_of_the_same_client_and_structure_sees_nothing(
    intake: Intake, feeding: RecordServices
) -> None:
    entry_id = _physicians_entry(intake)
    desk = QuarantineDesk(intake)
    mine = desk.show(PHYSICIAN, entry_id)
    assert "DUPONT" in mine["payload"]
    assert entry_id in _listed(desk, PHYSICIAN)
    for other in (DENTIST, NURSE, HOSPITAL_SYSTEM):
        assert entry_id not in _listed(desk, other), other.subject
        with pytest.raises(NotFound):
            desk.show(other, entry_id)
        with pytest.raises(NotFound):
            desk.replay(other, entry_id)
        with pytest.raises(NotFound):
            desk.discard(other, entry_id)
    assert desk.show(PHYSICIAN, entry_id)["status"] == "open", "nothing discarded"
    seen = desk.show(ADMIN, entry_id)
    assert "payload" not in seen and "details" not in seen, "admins: metadata only"
    assert entry_id in _listed(desk, ADMIN)
    assert entry_id in _listed(desk, ADMIN, source=VENDOR)


def test_a_system_sender_is_one_sender_whatever_its_tokens_subject(
    intake: Intake, feeding: RecordServices
) -> None:
    outcome = intake.hl7v2(b"not hl7 at all", ehpad_sender())
    desk = QuarantineDesk(intake)
    other_token = demo.EHPAD_SYSTEM.context(client_id="demo-ehpad", subject="ehpad-sync-2")
    assert desk.show(other_token, outcome.quarantine_id or "")["payload"] == "not hl7 at all"
    assert outcome.quarantine_id in _listed(desk, other_token)


def test_entries_from_before_the_subject_was_recorded_are_the_system_senders(
    intake: Intake, feeding: RecordServices
) -> None:
    legacy = q.QuarantineEntry(
        id=q.new_id(),
        source=VENDOR,
        structure=demo.HOSPITAL,
        format="hl7v2",
        kind="MDM^T02",
        reason="rejected",
        status="open",
        received=1,
        updated=1,
        payload=b"MSH|legacy",
        payload_sha256="0" * 64,
        issues=[],
    )
    with feeding.store.writer() as tx:
        q.add(tx.conn, [legacy])
    desk = QuarantineDesk(intake)
    for professional in (PHYSICIAN, DENTIST):
        with pytest.raises(NotFound):
            desk.show(professional, legacy.id)
        assert legacy.id not in _listed(desk, professional)
    assert desk.show(HOSPITAL_SYSTEM, legacy.id)["payload"] == "MSH|legacy"
    assert legacy.id in _listed(desk, HOSPITAL_SYSTEM)
    assert "payload" not in desk.show(ADMIN, legacy.id)


def test_the_source_filter_is_never_ignored(intake: Intake, feeding: RecordServices) -> None:
    ehpads = intake.hl7v2(b"not hl7 at all", ehpad_sender()).quarantine_id
    physicians = _physicians_entry(intake)
    desk = QuarantineDesk(intake)
    assert _listed(desk, EHPAD) == {ehpads}
    assert _listed(desk, EHPAD, source="demo-ehpad") == {ehpads}
    assert _listed(desk, EHPAD, source=VENDOR) == set(), "another client's: none of mine"
    assert _listed(desk, ADMIN) == {ehpads, physicians}
    assert _listed(desk, ADMIN, source="demo-ehpad") == {ehpads}
    assert _listed(desk, ADMIN, source=VENDOR) == {physicians}
    assert _listed(desk, ADMIN, source="nobody") == set()
