"""Rules 1-7 of DOMAIN.md §3, for professionals, systems and patients on a patient's record.

Each rule is a small total function ``Case -> Vote``; :data:`CHAIN` lists them in the
order the first deny must win. ``_context`` (rule 0) runs first and checks that the facts
belong to the patient of the resource and of the token.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.access.context import AccessContext
from gateway.policy import reasons as r
from gateway.policy.case import Case, authorize, proceed, reject
from gateway.policy.consent_shapes import ACCESS_GRANT
from gateway.policy.facts import (
    AUDIT,
    CONSENT,
    PATIENT_DOCUMENTS,
    Action,
    PatientFacts,
)
from gateway.policy.labels import (
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    MASQUE_PS,
)
from gateway.policy.options import PolicyOptions
from gateway.policy.vote import Vote

Rule = Callable[[Case], Vote]
_PATIENT_WRITES = frozenset({CONSENT, PATIENT_DOCUMENTS})


def _facts(case: Case) -> PatientFacts:
    assert case.facts is not None  # checked by _context, which always runs first
    return case.facts


def _context(case: Case) -> Vote:
    facts, ctx = case.facts, case.ctx
    if facts is None:
        return reject(r.FACTS_MISSING)
    if case.resource.patient not in facts.patient_refs:
        return reject(r.FACTS_MISMATCH)
    if ctx.patient is not None and ctx.patient not in facts.patient_refs:
        return reject(r.PATIENT_MISMATCH)
    if case.kind == "professional" and ctx.patient is None and case.options.require_patient_claim:
        return reject(r.PATIENT_CLAIM_MISSING)
    if case.kind == "patient":
        if not case.is_self and ctx.subject not in facts.legal_representatives:
            return reject(r.NOT_OWN_RECORD)
    elif facts.unreadable:
        return reject(r.FACTS_UNREADABLE)
    return proceed(r.CONTEXT_OK)


def _blocked(case: Case) -> Vote:
    """Rule 1 (PDSm4DMP TD0.2): a blocked professional never gets access, in any mode."""
    facts, ctx = _facts(case), case.ctx
    if case.kind == "professional" and ctx.subject in facts.blocked_professionals:
        return reject(r.BLOCKED_PROFESSIONAL)
    if case.kind in ("professional", "system") and ctx.structure in facts.blocked_structures:
        return reject(r.BLOCKED_STRUCTURE)
    return proceed(r.NOT_BLOCKED)


def _closed(case: Case) -> Vote:
    """Rule 2 (CSP L1111-18): a closed record allows no new access; an opposition too."""
    facts = _facts(case)
    if facts.record_closed:
        return reject(r.RECORD_CLOSED)
    if case.kind != "patient" and facts.general_opposition:
        return reject(r.GENERAL_OPPOSITION)
    return proceed(r.RECORD_OPEN)


def regulates(ctx: AccessContext, options: PolicyOptions) -> bool:
    """Whether ``ctx`` is a regulating physician of a centre 15 (may use ``centre_15``)."""
    return ctx.profession in options.centre15_professions and (
        ctx.role in options.centre15_roles or ctx.structure in options.centre15_structures
    )


def is_regulator(case: Case, options: PolicyOptions) -> bool:
    return regulates(case.ctx, options)


def _mode(case: Case) -> Vote:
    """Rule 3 (CSP L1111-17): emergency modes, traced and notified to the patient."""
    facts, ctx, mode = _facts(case), case.ctx, case.ctx.purpose_of_use
    if mode == "normal":
        return proceed(r.NORMAL_MODE)
    if mode not in ("bris_de_glace", "centre_15"):
        return reject(r.MODE_UNKNOWN)
    if case.kind != "professional":
        return reject(r.MODE_NOT_ALLOWED)
    if mode == "bris_de_glace":
        if not (ctx.justification or "").strip():
            return reject(r.BTG_JUSTIFICATION_MISSING)
        if facts.btg_opposition:
            return reject(r.BTG_OPPOSED)
        granted = r.BTG_GRANTED
    else:
        if not is_regulator(case, case.options):
            return reject(r.CENTRE15_NOT_REGULATOR)
        if facts.centre15_opposition:
            return reject(r.CENTRE15_OPPOSED)
        granted = r.CENTRE15_GRANTED
    obligations = (r.SECURITY_ALERT, r.NOTIFY_PATIENT, r.AUDIT_JUSTIFICATION)
    if case.action.is_read:
        return authorize(granted, *obligations)
    return proceed(r.EMERGENCY_WRITE, *obligations)


def _own_grant(case: Case) -> bool:
    consent = case.resource.consent
    return (
        consent is not None
        and consent.shapes == frozenset({ACCESS_GRANT})
        and consent.actors == frozenset({case.ctx.subject})
    )


def _relationship(case: Case) -> Vote:
    """Rule 4 (CSP R1111-46, L1111-17): care team, unless opposed; else explicit consent."""
    facts, ctx = _facts(case), case.ctx
    if case.kind == "patient":
        return authorize(r.OWN_RECORD if case.is_self else r.REPRESENTATIVE)
    if case.action is Action.CREATE and case.resource.type == "Patient":
        # Nobody can have a relationship with a record that does not exist yet (an EHPAD
        # admitting a resident, a physician opening a record); the matrix still decides.
        return authorize(r.RECORD_OPENING)
    if case.kind == "system":
        if ctx.group in facts.groups:
            return authorize(r.GROUP_MEMBER)
        return reject(r.NOT_IN_GROUP)
    if case.action is Action.CREATE and case.klass == CONSENT and _own_grant(case):
        if facts.care_team_opposition:
            return reject(r.CONSENT_BY_PATIENT_ONLY)
        # The patient is told, so a declared consent they never gave comes to light.
        return authorize(r.CONSENT_RECORDING, r.NOTIFY_PATIENT)
    in_team = (
        ctx.subject in facts.care_team_professionals or ctx.structure in facts.care_team_structures
    )
    if in_team and not facts.care_team_opposition:
        return authorize(r.CARE_TEAM)
    if ctx.subject in facts.consented_professionals:
        return authorize(r.EXPLICIT_CONSENT)
    if case.emergency and case.action.is_read:
        return proceed(r.EMERGENCY_ONLY)
    return reject(r.NO_RELATIONSHIP)


def _matrix(case: Case) -> Vote:
    """Rule 5 (DOMAIN.md §3.5): profession x class, from profiles/access-matrix.yaml."""
    klass, action = case.klass, case.action
    if case.kind == "patient":
        if action.is_read or action is Action.UPDATE_LABELS or klass in _PATIENT_WRITES:
            return proceed(r.CLASS_ALLOWED)
        return reject(r.PATIENT_CLASS_DENIED)
    if klass == AUDIT:
        return reject(r.AUDIT_NOT_CLINICAL)
    if klass == CONSENT:
        allowed = action.is_read or action is Action.CREATE
        if case.kind == "professional" and allowed and _own_grant(case):
            return proceed(r.CLASS_ALLOWED)
        return reject(r.CONSENT_DENIED)
    if case.matrix.type_denied(case.matrix_row, case.resource.document_type):
        return reject(r.TYPE_DENIED)
    cell = case.cell(klass)
    if action.is_read or action is Action.UPDATE_LABELS:
        allowed = cell is not None and (cell.read or case.is_author)
    else:
        allowed = cell is not None and cell.write
    return proceed(r.MATRIX_ALLOWED) if allowed else reject(r.MATRIX_DENIED)


def _labels(case: Case) -> Vote:
    """Rule 6 (CSP R1111-53): visibility labels and confidentiality."""
    labels, facts, ctx = case.resource.labels, _facts(case), case.ctx
    cumul = MASQUE_PS in labels and INVISIBLE_PATIENT in labels
    writing = case.action in (Action.CREATE, Action.UPDATE)
    if cumul and writing and not case.options.allow_masked_and_invisible:
        return reject(r.CUMUL_REFUSED)
    if case.kind == "patient":
        if case.invisible_to_patient():
            return reject(r.INVISIBLE_PATIENT)
        if INVISIBLE_REPRESENTANTS_LEGAUX in labels and not case.is_self:
            return reject(r.INVISIBLE_REPRESENTATIVES)
        return proceed(r.LABELS_ALLOW)
    masked = MASQUE_PS in labels or "V" in labels
    emergency_sees_masked = case.emergency and facts.masked_emergency_consent
    if masked and not case.is_author:
        designated = case.kind == "professional" and ctx.subject in facts.designated_professionals
        if not designated and not emergency_sees_masked:
            return reject(r.MASKED)
    if "R" in labels and case.emergency and not facts.masked_emergency_consent:
        return reject(r.RESTRICTED_EMERGENCY)
    return proceed(r.LABELS_ALLOW)


def _writes(case: Case) -> Vote:
    """Rule 7: only the author changes or deletes; the patient manages their choices."""
    action = case.action
    if action.is_read or action is Action.CREATE:
        return proceed(r.WRITE_RULES_OK)
    if case.kind == "patient" and (case.klass == CONSENT or action is Action.UPDATE_LABELS):
        return proceed(r.WRITE_RULES_OK)
    return proceed(r.WRITE_RULES_OK) if case.is_author else reject(r.NOT_AUTHOR)


CHAIN: tuple[Rule, ...] = (
    _context,
    _blocked,
    _closed,
    _mode,
    _relationship,
    _matrix,
    _labels,
    _writes,
)
