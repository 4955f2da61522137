"""Rule 0: who is calling, and are the inputs complete enough to decide?

:func:`screen` settles every case that the patient's choices do not govern (dev, admin,
auditor, conformance data, directory data, groups of residents) and refuses incomplete
inputs. It returns the decisive vote, or None when the case must go through rules 1-7.
"""

from __future__ import annotations

from gateway.policy import reasons as r
from gateway.policy.case import Case, authorize, reject
from gateway.policy.facts import (
    ADMINISTRATIVE,
    AUDIT,
    CONSENT,
    EXCLUDED,
    NOT_CLINICAL,
    ROSTER,
    Action,
)
from gateway.policy.labels import confidentiality_of, unknown_labels
from gateway.policy.vote import Vote

CHAIN_KINDS = frozenset({"professional", "system", "patient"})
KINDS = CHAIN_KINDS | {"auditor", "admin", "dev"}
_ACTIONS = frozenset(Action)


def _claims_missing(case: Case) -> Vote | None:
    ctx = case.ctx
    if case.kind == "professional":
        if not ctx.subject or not ctx.profession:
            return reject(r.CLAIM_MISSING)
        if not case.matrix.has_row(ctx.profession):
            return reject(r.PROFESSION_UNKNOWN)
    elif case.kind == "system":
        if not ctx.structure or not ctx.group:
            return reject(r.CLAIM_MISSING)
    elif case.kind == "patient" and not ctx.subject:
        return reject(r.CLAIM_MISSING)
    return None


def _labels(case: Case) -> Vote | None:
    labels = case.resource.labels
    if unknown_labels(labels, case.options.tolerated_labels):
        return reject(r.LABEL_UNKNOWN)
    if len(confidentiality_of(labels)) > 1:
        return reject(r.LABEL_CONFLICT)
    return None


def _admin(case: Case) -> Vote:
    # Choice: a patient's identity (Patient, RelatedPerson… in their compartment) is
    # personal health data too; the operator reads it only with admin_reads_clinical.
    personal = case.resource.patient is not None and not case.options.admin_reads_clinical
    if case.klass in (ADMINISTRATIVE, ROSTER) and not personal:
        return authorize(r.ADMIN_ADMINISTRATIVE)
    clinical = case.klass not in (AUDIT, CONSENT)
    if clinical and case.action.is_read and case.options.admin_reads_clinical:
        return authorize(r.ADMIN_ADMINISTRATIVE)
    return reject(r.ADMIN_NO_CLINICAL)


def _roster(case: Case) -> Vote:
    ctx, action = case.ctx, case.action
    bound = case.kind == "system" and ctx.group is not None and ctx.group == case.resource.id
    if bound and (action.is_read or action is Action.UPDATE):
        return authorize(r.ROSTER_BOUND)
    return reject(r.ROSTER_DENIED)


def _directory(case: Case) -> Vote:
    """Resources in no patient compartment (Practitioner, Organization, Location…)."""
    if case.klass != ADMINISTRATIVE:
        return reject(r.PATIENT_UNKNOWN)
    if case.action.is_read:
        return authorize(r.DIRECTORY_READ)
    if case.kind == "patient":
        return reject(r.PATIENT_CLASS_DENIED)
    if case.action is not Action.CREATE and not case.is_author:
        return reject(r.NOT_AUTHOR)
    cell = case.cell(ADMINISTRATIVE)
    if cell is None or not cell.write:
        return reject(r.MATRIX_DENIED)
    return authorize(r.MATRIX_ALLOWED)


def screen(case: Case) -> Vote | None:
    """The decisive rule-0 vote, or None to continue with rules 1-7."""
    if case.action not in _ACTIONS:  # a caller bypassing the type checker fails closed
        return reject(r.ACTION_UNKNOWN)
    if case.kind == "dev":
        return authorize(r.DEV_MODE) if case.options.dev_mode else reject(r.DEV_DISABLED)
    if case.kind not in KINDS:
        return reject(r.KIND_UNKNOWN)
    missing = _claims_missing(case)
    if missing is not None:
        return missing
    if case.resource.document_class is None:
        return reject(r.CLASS_UNKNOWN)
    if case.klass == EXCLUDED:
        return reject(r.CLASS_EXCLUDED)
    labels = _labels(case)
    if labels is not None:
        return labels
    if case.klass == NOT_CLINICAL:
        if case.resource.patient is not None:
            # Conformance data belongs to no patient; a claim otherwise is a wrong class.
            return reject(r.CLASS_UNKNOWN)
        if case.action.is_read:
            return authorize(r.NOT_CLINICAL_READ)
        return (
            authorize(r.ADMIN_ADMINISTRATIVE)
            if case.kind == "admin"
            else reject(r.NOT_CLINICAL_WRITE)
        )
    if case.klass == AUDIT and case.action.is_write:
        return reject(r.AUDIT_IMMUTABLE)
    if case.kind == "auditor":
        return authorize(r.AUDIT_READ) if case.klass == AUDIT else reject(r.AUDITOR_AUDIT_ONLY)
    if case.kind == "admin":
        return _admin(case)
    if case.klass == ROSTER:
        return _roster(case)
    if case.resource.patient is None:
        return _directory(case)
    return None
