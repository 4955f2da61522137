"""Write rules: the label set on update, the cumul rule, subjects and authors."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from gateway.access.context import AccessContext
from gateway.auth import demo
from gateway.policy import (
    PatientFacts,
    Policy,
    PolicyOptions,
    ResourceFacts,
    check_create,
    check_update,
    label_update,
)
from gateway.policy.labels import KNOWN_LABELS

INS = demo.PATIENT_INS[0]
REP = demo.PATIENT_INS[1]
FACTS = PatientFacts(
    patient_refs=frozenset({"Patient/p1", INS}),
    care_team_professionals=frozenset({demo.PHYSICIAN.subject, demo.NURSE.subject}),
    legal_representatives=frozenset({REP}),
)
DOC = ResourceFacts(
    type="DocumentReference",
    id="d1",
    patient="Patient/p1",
    author=demo.PHYSICIAN.subject,
    author_structure=demo.HOSPITAL,
    document_class="10",
    labels=frozenset({"N"}),
)
OPTIONS = PolicyOptions()

AUTHOR = demo.PHYSICIAN.context(patient=INS)
OTHER_PRO = demo.NURSE.context(patient=INS)
SELF = demo.PATIENT.context()
REPRESENTATIVE = demo.PATIENT.context(subject=REP, patient=INS)
ADMIN = demo.ADMIN.context()
DEV = AccessContext.dev_open()

VIS = ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX")
# (caller, label) -> (may add, may remove), the table of gateway/policy/writes.py.
PERMISSIONS = {
    ("author", "MASQUE_PS"): (True, False),
    ("author", "INVISIBLE_PATIENT"): (True, True),
    ("author", "INVISIBLE_REPRESENTANTS_LEGAUX"): (True, False),
    ("self", "MASQUE_PS"): (True, True),
    ("self", "INVISIBLE_PATIENT"): (False, False),
    ("self", "INVISIBLE_REPRESENTANTS_LEGAUX"): (True, True),
    ("representative", "MASQUE_PS"): (True, False),
    ("representative", "INVISIBLE_PATIENT"): (False, False),
    ("representative", "INVISIBLE_REPRESENTANTS_LEGAUX"): (True, False),
    ("other", "MASQUE_PS"): (False, False),
    ("other", "INVISIBLE_PATIENT"): (False, False),
    ("other", "INVISIBLE_REPRESENTANTS_LEGAUX"): (False, False),
    ("admin", "MASQUE_PS"): (False, False),
    ("admin", "INVISIBLE_PATIENT"): (False, False),
    ("admin", "INVISIBLE_REPRESENTANTS_LEGAUX"): (False, False),
    ("dev", "MASQUE_PS"): (True, True),
    ("dev", "INVISIBLE_PATIENT"): (True, True),
    ("dev", "INVISIBLE_REPRESENTANTS_LEGAUX"): (True, True),
}
CALLERS = {
    "author": AUTHOR,
    "self": SELF,
    "representative": REPRESENTATIVE,
    "other": OTHER_PRO,
    "admin": ADMIN,
    "dev": DEV,
}


@pytest.mark.parametrize(("who", "label"), sorted(PERMISSIONS))
def test_add_and_remove_table(who: str, label: str) -> None:
    may_add, may_remove = PERMISSIONS[(who, label)]
    ctx = CALLERS[who]
    added = label_update(ctx, DOC, DOC.labels | {label}, FACTS, options=OPTIONS)
    assert added.decision.permitted is may_add
    if may_add:
        assert added.labels == DOC.labels | {label}
    else:
        assert added.decision.reason.code == "label-add-refused"
        assert added.labels == DOC.labels  # nothing changes on a refusal
    holding = replace(DOC, labels=DOC.labels | {label})
    removed = label_update(ctx, holding, DOC.labels, FACTS, options=OPTIONS)
    assert removed.decision.permitted  # dropping is never refused: the label is kept
    assert (label in removed.labels) is (not may_remove)
    assert removed.kept == (frozenset() if may_remove else frozenset({label}))


@pytest.mark.parametrize(("old", "new"), list(itertools.product(["N", "R", "V", None], repeat=2)))
@pytest.mark.parametrize("who", ["author", "self", "other"])
def test_confidentiality_raise_and_lower(old: str | None, new: str | None, who: str) -> None:
    rank = {None: 0, "N": 0, "R": 1, "V": 2}
    before = replace(DOC, labels=frozenset({old} if old else set()))
    change = label_update(
        CALLERS[who], before, frozenset({new} if new else set()), FACTS, options=OPTIONS
    )
    raising, lowering = rank[new] > rank[old], rank[new] < rank[old]
    if raising and who == "other":
        assert change.decision.reason.code == "label-add-refused"
        return
    assert change.decision.permitted
    if lowering and who != "self":
        assert change.labels & {"N", "R", "V"} == {old}  # kept: only the patient lowers
    else:
        assert change.labels & {"N", "R", "V"} == ({new} if new else set())


def test_unknown_labels_are_never_added_nor_dropped() -> None:
    refused = label_update(SELF, DOC, DOC.labels | {"http://x|Y"}, FACTS, options=OPTIONS)
    assert refused.decision.reason.code == "label-unknown"
    holding = replace(DOC, labels=frozenset({"N", "http://x|Y"}))
    kept = label_update(SELF, holding, frozenset({"N"}), FACTS, options=OPTIONS)
    assert "http://x|Y" in kept.labels
    assert kept.kept == {"http://x|Y"}


def test_two_confidentiality_levels_refused() -> None:
    change = label_update(AUTHOR, DOC, frozenset({"N", "R"}), FACTS, options=OPTIONS)
    assert change.decision.reason.code == "label-conflict"


@pytest.mark.parametrize("allow", [False, True])
def test_cumul_rule_on_the_resulting_set(allow: bool) -> None:
    options = PolicyOptions(allow_masked_and_invisible=allow)
    masked = replace(DOC, labels=frozenset({"N", "MASQUE_PS"}))
    # The author adds INVISIBLE_PATIENT and tries to drop MASQUE_PS, which they may not:
    # MASQUE_PS is kept, so the result would hold both.
    change = label_update(
        AUTHOR, masked, frozenset({"N", "INVISIBLE_PATIENT"}), FACTS, options=options
    )
    assert change.decision.permitted is allow
    if not allow:
        assert change.decision.reason.code == "cumul-refused"


def test_every_known_label_is_covered_by_the_table() -> None:
    assert {label for _, label in PERMISSIONS} | {"N", "R", "V"} == KNOWN_LABELS


def test_check_create_returns_labels_and_engine_decision(policy: Policy) -> None:
    new = replace(DOC, labels=frozenset({"N", "MASQUE_PS"}))
    change = check_create(AUTHOR, new, FACTS, policy=policy)
    assert change.decision.permitted
    assert change.decision.reason.code == "care-team"
    assert change.labels == {"N", "MASQUE_PS"}
    refused = check_create(demo.REGULATOR.context(patient=INS), new, FACTS, policy=policy)
    assert refused.decision.reason.code == "no-relationship"


def test_check_create_refuses_a_hidden_label_from_a_patient(policy: Policy) -> None:
    new = replace(DOC, author=INS, document_class="90", labels=frozenset({"INVISIBLE_PATIENT"}))
    change = check_create(SELF, new, FACTS, policy=policy)
    assert change.decision.reason.code == "invisible-patient"  # the engine refuses first
    shown = replace(new, labels=frozenset({"R", "INVISIBLE_REPRESENTANTS_LEGAUX"}))
    assert check_create(SELF, shown, FACTS, policy=policy).decision.permitted
    hidden = label_update(SELF, None, new.labels, FACTS, options=OPTIONS)
    assert hidden.decision.reason.code == "label-add-refused"


def test_nobody_changes_the_subject(policy: Policy) -> None:
    for ctx in (AUTHOR, SELF, DEV):
        moved = check_update(ctx, DOC, replace(DOC, patient="Patient/p2"), FACTS, policy=policy)
        assert moved.decision.reason.code == "subject-change"
    renamed = check_update(AUTHOR, DOC, replace(DOC, id="d2"), FACTS, policy=policy)
    assert renamed.decision.reason.code == "identity-change"


def test_update_keeps_gateway_records_of_authorship(policy: Policy) -> None:
    # The client claims to be the author in the new version: ignored.
    forged = replace(DOC, author=demo.NURSE.subject)
    assert check_update(OTHER_PRO, DOC, forged, FACTS, policy=policy).decision.reason.code == (
        "not-author"
    )
    ok = check_update(AUTHOR, DOC, replace(DOC, labels=frozenset({"R"})), FACTS, policy=policy)
    assert ok.decision.permitted
    assert ok.labels == {"R"}


def test_update_into_a_class_the_author_may_not_write(policy: Policy) -> None:
    change = check_update(AUTHOR, DOC, replace(DOC, document_class="43"), FACTS, policy=policy)
    assert change.decision.reason.code == "matrix-denied"


def test_patient_masks_through_labels_only(policy: Policy) -> None:
    new = replace(DOC, labels=frozenset({"N", "MASQUE_PS"}))
    masked = check_update(SELF, DOC, new, FACTS, policy=policy, labels_only=True)
    assert masked.decision.permitted
    assert masked.labels == {"N", "MASQUE_PS"}
    content = check_update(SELF, DOC, new, FACTS, policy=policy)
    assert content.decision.reason.code == "patient-class-denied"
    back = check_update(
        SELF, replace(DOC, labels=new.labels), DOC, FACTS, policy=policy, labels_only=True
    )
    assert back.decision.permitted
    assert back.labels == {"N"}
    by_author = check_update(
        AUTHOR, replace(DOC, labels=new.labels), DOC, FACTS, policy=policy, labels_only=True
    )
    assert by_author.labels == {"N", "MASQUE_PS"}
    assert by_author.kept == {"MASQUE_PS"}
