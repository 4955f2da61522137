"""Table-driven tests of every rule (DOMAIN.md §3) with the demo actors.

Each row: who asks (a demo actor, with token overrides), what they do, on which resource
(overrides of a class-10 consultation report by the physician), with which patient facts
(overrides of a record whose care team holds every demo professional but the regulator),
and the expected effect and reason code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.auth import demo
from gateway.policy import Action, PatientFacts, Policy, PolicyOptions, ResourceFacts
from gateway.policy.facts import ConsentSummary
from gateway.policy.matrix import AccessMatrix

INS = demo.PATIENT_INS[0]
OTHER_INS = demo.PATIENT_INS[1]
CHILD_INS = demo.PATIENT_INS[2]
P = "Patient/p1"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

TEAM = frozenset(
    a.subject
    for a in (demo.PHYSICIAN, demo.NURSE, demo.PHARMACIST, demo.DENTIST, demo.PHYSIOTHERAPIST,
              demo.IDEC)
)  # fmt: skip
BASE_FACTS = PatientFacts(
    patient_refs=frozenset({P, INS}),
    care_team_professionals=TEAM,
    groups=frozenset({demo.EHPAD_GROUP}),
    legal_representatives=frozenset({OTHER_INS}),
)
BASE_DOC = ResourceFacts(
    type="DocumentReference",
    id="d1",
    patient=P,
    author=demo.PHYSICIAN.subject,
    author_structure=demo.HOSPITAL,
    document_class="10",
    document_type="11488-4",
    labels=frozenset({"N"}),
    created_at=NOW - timedelta(days=3),
)
BTG = {"purpose_of_use": "bris_de_glace", "justification": "unconscious, anaphylaxis"}
C15 = {"purpose_of_use": "centre_15"}
EMERGENCY_OBLIGATIONS = ("security-alert", "notify-patient", "audit-justification")
GRANT = ConsentSummary(frozenset({"access-grant"}), frozenset({demo.PHYSICIAN.subject}))


@dataclass(frozen=True)
class Row:
    id: str
    actor: str
    expect: str
    permit: bool
    action: Action = Action.READ
    ctx: Mapping[str, Any] = field(default_factory=dict)
    res: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, Any] | None = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    obligations: tuple[str, ...] = ()


def _frozen(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: frozenset(v) if isinstance(v, set) else v for k, v in values.items()}


R = Action.READ
# fmt: off
ROWS = [
    # Rule 0: callers and inputs.
    Row("dev-disabled", "dev", "dev-disabled", False),
    Row("dev-mode", "dev", "dev-mode", True, options={"dev_mode": True}),
    Row("kind-unknown", "physician", "kind-unknown", False, ctx={"kind": "robot"}),
    Row("missing-profession", "physician", "claim-missing", False, ctx={"profession": None}),
    Row("missing-subject", "physician", "claim-missing", False, ctx={"subject": None}),
    Row("profession-unknown", "physician", "profession-unknown", False, ctx={"profession": "99"}),
    Row("system-without-group", "ehpad", "claim-missing", False, ctx={"group": None}),
    Row("patient-without-subject", "patient", "claim-missing", False, ctx={"subject": None}),
    Row("class-unknown", "physician", "class-unknown", False, res={"document_class": None}),
    Row("class-excluded", "physician", "class-excluded", False,
        res={"type": "Claim", "document_class": "excluded"}),
    Row("label-unknown", "physician", "label-unknown", False,
        res={"labels": {"N", "http://example.org|SECRET"}}),
    Row("label-unknown-admin", "admin", "label-unknown", False,
        res={"type": "Patient", "document_class": "administrative", "labels": {"|"}}),
    Row("label-tolerated", "physician", "care-team", True,
        res={"labels": {"N", "http://example.org|X"}},
        options={"tolerated_labels": frozenset({"http://example.org|X"})}),
    Row("label-conflict", "physician", "label-conflict", False, res={"labels": {"N", "V"}}),
    Row("facts-missing", "physician", "facts-missing", False, facts=None),
    Row("facts-mismatch", "physician", "facts-mismatch", False, res={"patient": "Patient/p2"}),
    Row("patient-claim-missing", "physician", "patient-claim-missing", False,
        ctx={"patient": None}),
    Row("patient-claim-optional", "physician", "care-team", True, ctx={"patient": None},
        options={"require_patient_claim": False}),
    Row("patient-mismatch", "physician", "patient-mismatch", False, ctx={"patient": OTHER_INS}),
    Row("facts-unreadable", "physician", "facts-unreadable", False,
        facts={"unreadable": ("Consent/x: unknown",)}),
    Row("facts-unreadable-patient-still-reads", "patient", "own-record", True,
        facts={"unreadable": ("Consent/x: unknown",)}),
    Row("not-own-record", "patient", "not-own-record", False,
        ctx={"subject": demo.PATIENT_INS[3], "patient": INS}),
    Row("auditor-audit", "auditor", "audit-read", True,
        res={"type": "AuditEvent", "document_class": "audit"}),
    Row("auditor-no-document", "auditor", "auditor-audit-only", False),
    Row("auditor-no-directory", "auditor", "auditor-audit-only", False,
        res={"type": "Practitioner", "patient": None, "document_class": "administrative"}),
    Row("audit-immutable", "auditor", "audit-immutable", False, action=Action.CREATE,
        res={"type": "AuditEvent", "document_class": "audit"}),
    Row("admin-administrative", "admin", "admin-administrative", True,
        res={"type": "Organization", "patient": None, "document_class": "administrative"}),
    Row("admin-no-patient-identity", "admin", "admin-no-clinical", False,
        res={"type": "Patient", "document_class": "administrative"}),
    Row("admin-patient-identity-configured", "admin", "admin-administrative", True,
        res={"type": "Patient", "document_class": "administrative"},
        options={"admin_reads_clinical": True}),
    Row("admin-no-clinical", "admin", "admin-no-clinical", False),
    Row("admin-clinical-configured", "admin", "admin-administrative", True,
        options={"admin_reads_clinical": True}),
    Row("admin-no-consent", "admin", "admin-no-clinical", False,
        res={"type": "Consent", "document_class": "consent"}),
    Row("not-clinical-read", "patient", "not-clinical-read", True,
        res={"type": "ValueSet", "patient": None, "document_class": "not-clinical"}),
    Row("not-clinical-write", "physician", "not-clinical-write", False, action=Action.UPDATE,
        res={"type": "ValueSet", "patient": None, "document_class": "not-clinical"}),
    Row("directory-read", "nurse", "directory-read", True,
        res={"type": "Practitioner", "patient": None, "document_class": "administrative"}),
    Row("directory-create", "physician", "matrix-allowed", True, action=Action.CREATE,
        res={"type": "Practitioner", "patient": None, "document_class": "administrative"}),
    Row("directory-create-pharmacist", "pharmacist", "matrix-denied", False, action=Action.CREATE,
        res={"type": "Practitioner", "patient": None, "document_class": "administrative"}),
    Row("directory-update-not-author", "physician", "not-author", False, action=Action.UPDATE,
        res={"type": "Practitioner", "patient": None, "document_class": "administrative",
             "author": "810000000090"}),
    Row("directory-patient-write", "patient", "patient-class-denied", False, action=Action.CREATE,
        res={"type": "Practitioner", "patient": None, "document_class": "administrative"}),
    Row("clinical-without-patient", "physician", "patient-unknown", False,
        res={"type": "Observation", "patient": None}),
    Row("roster-bound", "ehpad", "roster-bound", True,
        res={"type": "Group", "id": demo.EHPAD_GROUP, "patient": None, "document_class": "roster"}),
    Row("roster-other-group", "ehpad", "roster-denied", False,
        res={"type": "Group", "id": "other", "patient": None, "document_class": "roster"}),
    Row("roster-professional", "physician", "roster-denied", False,
        res={"type": "Group", "id": demo.EHPAD_GROUP, "patient": None, "document_class": "roster"}),
    # Rule 1: blocked professionals and structures, in every mode.
    Row("blocked", "physician", "blocked-professional", False,
        facts={"blocked_professionals": {demo.PHYSICIAN.subject}}),
    Row("blocked-btg", "physician", "blocked-professional", False, ctx=BTG,
        facts={"blocked_professionals": {demo.PHYSICIAN.subject}}),
    Row("blocked-c15", "regulator", "blocked-professional", False, ctx=C15,
        facts={"blocked_professionals": {demo.REGULATOR.subject}}),
    Row("blocked-consented", "physician", "blocked-professional", False,
        facts={"blocked_professionals": {demo.PHYSICIAN.subject},
               "consented_professionals": {demo.PHYSICIAN.subject}}),
    Row("blocked-structure", "nurse", "blocked-structure", False,
        facts={"blocked_structures": {demo.HOSPITAL}}),
    Row("blocked-structure-system", "ehpad", "blocked-structure", False,
        facts={"blocked_structures": {demo.EHPAD}}),
    Row("patient-unaffected-by-blocks", "patient", "own-record", True,
        facts={"blocked_professionals": {demo.PHYSICIAN.subject}}),
    # Rule 2: closed record, general opposition.
    Row("closed", "physician", "record-closed", False, facts={"record_closed": True}),
    Row("closed-patient", "patient", "record-closed", False, facts={"record_closed": True}),
    Row("closed-btg", "physician", "record-closed", False, ctx=BTG, facts={"record_closed": True}),
    Row("opposition", "physician", "general-opposition", False, facts={"general_opposition": True}),
    Row("opposition-system", "ehpad", "general-opposition", False,
        facts={"general_opposition": True}),
    Row("opposition-patient-reads", "patient", "own-record", True,
        facts={"general_opposition": True}),
    Row("opposition-blocks-writes", "physician", "general-opposition", False, action=Action.CREATE,
        facts={"general_opposition": True}),
    # Rule 3: modes.
    Row("btg-granted", "physician", "btg-granted", True, ctx=BTG,
        facts={"care_team_professionals": set()}, obligations=EMERGENCY_OBLIGATIONS),
    Row("btg-in-team-still-traced", "physician", "btg-granted", True, ctx=BTG,
        obligations=EMERGENCY_OBLIGATIONS),
    Row("btg-no-justification", "physician", "btg-justification-missing", False,
        ctx={"purpose_of_use": "bris_de_glace", "justification": "  "}),
    Row("btg-opposed", "physician", "btg-opposed", False, ctx=BTG, facts={"btg_opposition": True}),
    Row("btg-write-needs-relationship", "physician", "no-relationship", False, action=Action.CREATE,
        ctx=BTG, facts={"care_team_professionals": set()}),
    Row("btg-write-in-team", "physician", "care-team", True, action=Action.CREATE, ctx=BTG,
        obligations=EMERGENCY_OBLIGATIONS),
    Row("c15-granted", "regulator", "centre15-granted", True, ctx=C15,
        obligations=EMERGENCY_OBLIGATIONS),
    Row("c15-not-regulator", "physician", "centre15-not-regulator", False, ctx=C15),
    Row("c15-nurse-with-role", "nurse", "centre15-not-regulator", False,
        ctx={**C15, "role": "regulation"}),
    Row("c15-by-structure", "physician", "centre15-granted", True, ctx=C15,
        options={"centre15_structures": frozenset({demo.HOSPITAL})},
        obligations=EMERGENCY_OBLIGATIONS),
    Row("c15-opposed", "regulator", "centre15-opposed", False, ctx=C15,
        facts={"centre15_opposition": True}),
    Row("btg-opposition-does-not-stop-c15", "regulator", "centre15-granted", True, ctx=C15,
        facts={"btg_opposition": True}, obligations=EMERGENCY_OBLIGATIONS),
    Row("mode-patient", "patient", "mode-not-allowed", False, ctx=BTG),
    Row("mode-system", "ehpad", "mode-not-allowed", False, ctx=C15),
    Row("mode-unknown", "physician", "mode-unknown", False, ctx={"purpose_of_use": "urgence"}),
    # Rule 4: relationship.
    Row("care-team", "physician", "care-team", True),
    Row("care-team-structure", "regulator", "care-team", True,
        facts={"care_team_structures": {demo.SAMU}}),
    Row("no-relationship", "regulator", "no-relationship", False),
    Row("explicit-consent", "regulator", "explicit-consent", True,
        facts={"consented_professionals": {demo.REGULATOR.subject}}),
    Row("care-team-opposed", "physician", "no-relationship", False,
        facts={"care_team_opposition": True}),
    Row("care-team-opposed-consented", "physician", "explicit-consent", True,
        facts={"care_team_opposition": True, "consented_professionals": {demo.PHYSICIAN.subject}}),
    Row("group-member", "ehpad", "group-member", True),
    Row("not-in-group", "ehpad", "not-in-group", False, facts={"groups": set()}),
    Row("own-record", "patient", "own-record", True),
    Row("representative", "patient", "representative", True,
        ctx={"subject": OTHER_INS, "patient": INS}),
    Row("record-opening", "physician", "record-opening", True, action=Action.CREATE,
        res={"type": "Patient", "document_class": "administrative"},
        facts={"care_team_professionals": set()}),
    Row("record-opening-system", "ehpad", "record-opening", True, action=Action.CREATE,
        res={"type": "Patient", "document_class": "administrative"}, facts={"groups": set()}),
    Row("record-opening-pharmacist", "pharmacist", "matrix-denied", False, action=Action.CREATE,
        res={"type": "Patient", "document_class": "administrative"}),
    Row("consent-recording", "physician", "consent-recording", True, action=Action.CREATE,
        res={"type": "Consent", "document_class": "consent", "consent": GRANT},
        facts={"care_team_professionals": set()}, obligations=("notify-patient",)),
    Row("consent-recording-opposed", "physician", "consent-by-patient-only", False,
        action=Action.CREATE,
        res={"type": "Consent", "document_class": "consent", "consent": GRANT},
        facts={"care_team_professionals": set(), "care_team_opposition": True}),
    Row("consent-recording-for-another", "regulator", "no-relationship", False,
        action=Action.CREATE,
        res={"type": "Consent", "document_class": "consent", "consent": GRANT}),
    # Rule 5: matrix.
    Row("pharmacist-no-reports", "pharmacist", "matrix-denied", False),
    Row("pharmacist-dispensation", "pharmacist", "care-team", True, res={"document_class": "43"}),
    Row("pharmacist-writes-dispensation", "pharmacist", "care-team", True, action=Action.CREATE,
        res={"document_class": "43", "author": demo.PHARMACIST.subject}),
    Row("physician-no-dispensing", "physician", "matrix-denied", False, action=Action.CREATE,
        res={"document_class": "43"}),
    Row("nurse-no-dispensation", "nurse", "matrix-denied", False, res={"document_class": "43"}),
    Row("idec-dispensation", "idec", "care-team", True, res={"document_class": "43"}),
    Row("idec-writes-support-plan", "idec", "care-team", True, action=Action.CREATE,
        res={"document_class": "44", "document_type": "80788-3"}),
    Row("dentist-no-care-plan", "dentist", "matrix-denied", False, res={"document_class": "44"}),
    Row("physio-no-summary", "physiotherapist", "matrix-denied", False,
        res={"document_class": "11"}),
    Row("author-rereads", "pharmacist", "care-team", True, res={"author": demo.PHARMACIST.subject}),
    Row("nobody-writes-patient-class", "physician", "matrix-denied", False, action=Action.CREATE,
        res={"document_class": "90"}),
    Row("physician-reads-patient-class", "physician", "care-team", True,
        res={"document_class": "90"}),
    Row("patient-writes-own-class", "patient", "own-record", True, action=Action.CREATE,
        res={"document_class": "90", "author": INS}),
    Row("patient-no-clinical-write", "patient", "patient-class-denied", False,
        action=Action.CREATE),
    Row("patient-reads-audit", "patient", "own-record", True,
        res={"type": "AuditEvent", "document_class": "audit"}),
    Row("professional-no-audit", "physician", "audit-not-for-caller", False,
        res={"type": "AuditEvent", "document_class": "audit"}),
    Row("professional-no-foreign-consent", "physician", "consent-denied", False,
        res={"type": "Consent", "document_class": "consent"}),
    Row("professional-reads-own-grant", "physician", "care-team", True,
        res={"type": "Consent", "document_class": "consent", "consent": GRANT}),
    Row("professional-no-consent-delete", "physician", "consent-denied", False,
        action=Action.DELETE,
        res={"type": "Consent", "document_class": "consent", "consent": GRANT,
             "author": demo.PHYSICIAN.subject}),
    Row("system-no-consent", "ehpad", "consent-denied", False,
        res={"type": "Consent", "document_class": "consent"}),
    Row("system-writes-plan", "ehpad", "group-member", True, action=Action.CREATE,
        res={"document_class": "44", "author_structure": demo.EHPAD}),
    Row("system-no-patient-docs", "ehpad", "matrix-denied", False, res={"document_class": "90"}),
    # Rule 6: labels.
    Row("masked", "nurse", "masked", False, res={"labels": {"MASQUE_PS"}}),
    Row("masked-v", "nurse", "masked", False, res={"labels": {"V"}}),
    Row("masked-author", "physician", "care-team", True, res={"labels": {"MASQUE_PS"}}),
    Row("masked-designated", "nurse", "care-team", True, res={"labels": {"MASQUE_PS"}},
        facts={"designated_professionals": {demo.NURSE.subject}}),
    Row("masked-btg", "nurse", "masked", False, ctx=BTG, res={"labels": {"MASQUE_PS"}}),
    Row("masked-btg-consent", "nurse", "btg-granted", True, ctx=BTG, res={"labels": {"MASQUE_PS"}},
        facts={"masked_emergency_consent": True}, obligations=EMERGENCY_OBLIGATIONS),
    Row("masked-c15-consent", "regulator", "centre15-granted", True, ctx=C15,
        res={"labels": {"MASQUE_PS"}}, facts={"masked_emergency_consent": True},
        obligations=EMERGENCY_OBLIGATIONS),
    Row("masked-patient", "patient", "own-record", True, res={"labels": {"MASQUE_PS"}}),
    Row("masked-system-own-structure", "ehpad", "group-member", True,
        res={"labels": {"MASQUE_PS"}, "author_structure": demo.EHPAD}),
    Row("masked-system-other", "ehpad", "masked", False, res={"labels": {"MASQUE_PS"}}),
    Row("restricted-normal", "nurse", "care-team", True, res={"labels": {"R"}}),
    Row("restricted-btg", "nurse", "restricted-emergency", False, ctx=BTG, res={"labels": {"R"}}),
    Row("restricted-btg-consent", "nurse", "btg-granted", True, ctx=BTG, res={"labels": {"R"}},
        facts={"masked_emergency_consent": True}, obligations=EMERGENCY_OBLIGATIONS),
    Row("invisible-patient", "patient", "invisible-patient", False,
        res={"labels": {"INVISIBLE_PATIENT"}}),
    Row("invisible-patient-announced", "patient", "own-record", True,
        res={"labels": {"INVISIBLE_PATIENT"}, "announced_at": NOW - timedelta(hours=1)}),
    Row("invisible-patient-three-weeks", "patient", "invisible-patient", False,
        res={"labels": {"INVISIBLE_PATIENT"}, "created_at": NOW - timedelta(days=21)}),
    Row("invisible-patient-lifted-month", "patient", "own-record", True,
        res={"labels": {"INVISIBLE_PATIENT"}, "created_at": datetime(2025, 5, 1, tzinfo=UTC)}),
    Row("invisible-patient-professional", "nurse", "care-team", True,
        res={"labels": {"INVISIBLE_PATIENT"}}),
    Row("invisible-representatives", "patient", "invisible-representatives", False,
        ctx={"subject": OTHER_INS, "patient": INS},
        res={"labels": {"INVISIBLE_REPRESENTANTS_LEGAUX"}}),
    Row("invisible-representatives-self", "patient", "own-record", True,
        res={"labels": {"INVISIBLE_REPRESENTANTS_LEGAUX"}}),
    Row("cumul-refused", "physician", "cumul-refused", False, action=Action.CREATE,
        res={"labels": {"MASQUE_PS", "INVISIBLE_PATIENT"}}),
    Row("cumul-configured", "physician", "care-team", True, action=Action.CREATE,
        res={"labels": {"MASQUE_PS", "INVISIBLE_PATIENT"}},
        options={"allow_masked_and_invisible": True}),
    # Rule 7: writes.
    Row("author-deletes", "physician", "care-team", True, action=Action.DELETE),
    Row("non-author-deletes", "nurse", "not-author", False, action=Action.DELETE),
    Row("non-author-updates", "nurse", "not-author", False, action=Action.UPDATE),
    Row("non-author-labels", "nurse", "not-author", False, action=Action.UPDATE_LABELS),
    Row("patient-deletes-own", "patient", "own-record", True, action=Action.DELETE,
        res={"document_class": "90", "author": INS}),
    Row("patient-deletes-physician-doc", "patient", "patient-class-denied", False,
        action=Action.DELETE),
    Row("patient-revokes-grant", "patient", "own-record", True, action=Action.DELETE,
        res={"type": "Consent", "document_class": "consent", "consent": GRANT,
             "author": demo.PHYSICIAN.subject}),
    Row("patient-masks", "patient", "own-record", True, action=Action.UPDATE_LABELS),
    Row("patient-cannot-touch-hidden", "patient", "invisible-patient", False,
        action=Action.UPDATE_LABELS, res={"labels": {"INVISIBLE_PATIENT"}}),
    Row("system-updates-own", "ehpad", "group-member", True, action=Action.UPDATE,
        res={"author_structure": demo.EHPAD}),
    Row("system-updates-other", "ehpad", "not-author", False, action=Action.UPDATE),
]
# fmt: on


def _context(row: Row) -> Any:
    if row.actor == "dev":
        from gateway.access.context import AccessContext

        return AccessContext.dev_open()
    actor = demo.ACTORS[row.actor]
    patient = INS if actor.kind in ("professional", "patient") else None
    return actor.context(**{"patient": patient, **row.ctx})


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_rule(row: Row, matrix: AccessMatrix) -> None:
    policy = Policy(matrix, PolicyOptions(**row.options))
    resource = replace(BASE_DOC, **_frozen(row.res))
    facts = None if row.facts is None else replace(BASE_FACTS, **_frozen(row.facts))
    decision = policy.evaluate(_context(row), row.action, resource, facts, now=NOW)
    assert (decision.reason.code, decision.permitted) == (row.expect, row.permit)
    assert tuple(o.code for o in decision.obligations) == row.obligations
    if not row.permit:
        assert decision.trail[-1].reason.code == row.expect  # first deny wins, then stop


def test_every_reason_is_exercised_by_a_row() -> None:
    """Each reason a real decision can end on appears at least once in the table."""
    from gateway.policy.reasons import REASONS

    passing = {
        "not-blocked",
        "record-open",
        "normal-mode",
        "emergency-write",
        "emergency-only",
        "matrix-allowed",
        "class-allowed",
        "labels-allow",
        "write-rules-ok",
        "context-ok",
        "labels-ok",
        "label-add-refused",
        "subject-change",
        "identity-change",
        "action-unknown",
        "type-denied",
        "no-authorisation",
    }
    covered = {row.expect for row in ROWS}
    assert set(REASONS) - passing - covered == set()


def test_action_outside_the_enum_fails_closed(policy: Policy) -> None:
    ctx = demo.PHYSICIAN.context(patient=INS)
    decision = policy.evaluate(ctx, "read", BASE_DOC, BASE_FACTS)  # type: ignore[arg-type]
    assert (decision.reason.code, decision.permitted) == ("action-unknown", False)


def test_type_exclusion_from_the_matrix(matrix: AccessMatrix) -> None:
    row = matrix.rows["40"]
    patched = replace(
        matrix, rows={**matrix.rows, "40": replace(row, deny_types=frozenset({"11488-4"}))}
    )
    decision = Policy(patched).evaluate(
        demo.DENTIST.context(patient=INS), Action.READ, BASE_DOC, BASE_FACTS
    )
    assert (decision.reason.code, decision.permitted) == ("type-denied", False)


def test_search_match_follows_read(policy: Policy) -> None:
    for row in ROWS:
        if row.action is not Action.READ or row.options:
            continue
        resource = replace(BASE_DOC, **_frozen(row.res))
        facts = None if row.facts is None else replace(BASE_FACTS, **_frozen(row.facts))
        read = policy.evaluate(_context(row), Action.READ, resource, facts, now=NOW)
        match = policy.evaluate(_context(row), Action.SEARCH_MATCH, resource, facts, now=NOW)
        assert (read.effect, read.reason) == (match.effect, match.reason), row.id


def test_without_now_only_the_announcement_lifts(policy: Policy) -> None:
    old = replace(
        BASE_DOC,
        labels=frozenset({"INVISIBLE_PATIENT"}),
        created_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    ctx = demo.PATIENT.context()
    assert not policy.evaluate(ctx, Action.READ, old, BASE_FACTS).permitted
    announced = replace(old, announced_at=datetime(2020, 1, 2, tzinfo=UTC))
    assert policy.evaluate(ctx, Action.READ, announced, BASE_FACTS).permitted


def test_invisible_patient_schedule() -> None:
    notice, lift = PolicyOptions().invisible_patient_schedule(datetime(2025, 1, 31, tzinfo=UTC))
    assert notice == datetime(2025, 2, 14, tzinfo=UTC)
    assert lift == datetime(2025, 2, 28, tzinfo=UTC)  # one calendar month, clamped
