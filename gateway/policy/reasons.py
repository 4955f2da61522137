"""Stable reason codes and obligations of the access policy.

A :class:`Reason` names the rule that voted (0 = caller and input checks, 1-7 = the rules of
DOMAIN.md §3 in their order, 8 = the final default) with a stable ``code`` that clients,
tests and ``/access/explain`` can rely on, and a fixed human text. Texts never contain data
taken from the request, so a decision can be logged without leaking clinical content.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    rule: int
    text: str


@dataclass(frozen=True, slots=True)
class Obligation:
    """Something the caller of the engine must do when it acts on a permit."""

    code: str
    text: str


SECURITY_ALERT = Obligation(
    "security-alert", "Raise a security alert in the audit log (emergency access)."
)
NOTIFY_PATIENT = Obligation(
    "notify-patient", "Queue a notification to the patient that their record was accessed."
)
AUDIT_JUSTIFICATION = Obligation(
    "audit-justification", "Record the mode and the caller's justification in the AuditEvent."
)

_ALL: dict[str, Reason] = {}


def _r(code: str, rule: int, text: str) -> Reason:
    if code in _ALL:  # pragma: no cover - guards the table below at import
        raise ValueError(f"duplicate reason code {code}")
    reason = Reason(code, rule, text)
    _ALL[code] = reason
    return reason


# Rule 0: who is calling, and are the inputs complete enough to decide?
DEV_MODE = _r("dev-mode", 0, "Development mode: every access is allowed.")
DEV_DISABLED = _r("dev-disabled", 0, "The dev caller only exists in development mode.")
KIND_UNKNOWN = _r("kind-unknown", 0, "Unknown kind of caller.")
ACTION_UNKNOWN = _r("action-unknown", 0, "Unknown action.")
CLAIM_MISSING = _r("claim-missing", 0, "A claim this kind of caller needs is missing.")
PROFESSION_UNKNOWN = _r("profession-unknown", 0, "The profession has no row in the matrix.")
CLASS_UNKNOWN = _r("class-unknown", 0, "The resource maps to no document class.")
CLASS_EXCLUDED = _r("class-excluded", 0, "This resource type is not shared through the record.")
FACTS_MISSING = _r("facts-missing", 0, "The patient's consent facts were not loaded.")
FACTS_MISMATCH = _r("facts-mismatch", 0, "The consent facts belong to another patient.")
FACTS_UNREADABLE = _r(
    "facts-unreadable", 0, "A patient choice could not be read; access is refused until fixed."
)
PATIENT_CLAIM_MISSING = _r(
    "patient-claim-missing", 0, "The token names no patient for clinical data."
)
PATIENT_MISMATCH = _r("patient-mismatch", 0, "The resource belongs to another patient.")
PATIENT_UNKNOWN = _r("patient-unknown", 0, "Clinical data that belongs to no known patient.")
NOT_OWN_RECORD = _r("not-own-record", 0, "A patient may only access their own record.")
AUDITOR_AUDIT_ONLY = _r("auditor-audit-only", 0, "Auditors may only read audit events.")
AUDIT_READ = _r("audit-read", 0, "Auditors read audit events.")
AUDIT_IMMUTABLE = _r("audit-immutable", 0, "Audit events are written by the gateway only.")
ADMIN_NO_CLINICAL = _r("admin-no-clinical", 0, "Administrators do not see clinical content.")
ADMIN_ADMINISTRATIVE = _r("admin-administrative", 0, "Administrators manage administrative data.")
NOT_CLINICAL_READ = _r("not-clinical-read", 0, "Conformance and reference data are readable.")
NOT_CLINICAL_WRITE = _r(
    "not-clinical-write", 0, "Only administrators change conformance and reference data."
)
DIRECTORY_READ = _r("directory-read", 0, "Directory data (no patient) is readable.")
ROSTER_BOUND = _r("roster-bound", 0, "A system reads the group of residents it is bound to.")
ROSTER_DENIED = _r("roster-denied", 0, "Groups of residents are visible to their system only.")
CONTEXT_OK = _r("context-ok", 0, "The facts match the caller and the resource.")
LABEL_UNKNOWN = _r("label-unknown", 0, "The resource carries an unknown security label.")
LABEL_CONFLICT = _r("label-conflict", 0, "More than one confidentiality level.")

# Rule 1: blocked professionals.
BLOCKED_PROFESSIONAL = _r("blocked-professional", 1, "The patient has blocked this professional.")
BLOCKED_STRUCTURE = _r("blocked-structure", 1, "The patient has blocked this structure.")
NOT_BLOCKED = _r("not-blocked", 1, "The caller is not blocked by the patient.")

# Rule 2: closed record, general opposition.
RECORD_CLOSED = _r("record-closed", 2, "The record is closed: no new access.")
GENERAL_OPPOSITION = _r("general-opposition", 2, "The patient opposes access to the record.")
RECORD_OPEN = _r("record-open", 2, "The record is open and the patient does not oppose access.")

# Rule 3: access mode.
MODE_NOT_ALLOWED = _r("mode-not-allowed", 3, "This kind of caller may only use the normal mode.")
MODE_UNKNOWN = _r("mode-unknown", 3, "Unknown access mode.")
NORMAL_MODE = _r("normal-mode", 3, "Normal access mode.")
EMERGENCY_WRITE = _r(
    "emergency-write", 3, "An emergency mode authorises no write; the care relationship decides."
)
BTG_JUSTIFICATION_MISSING = _r(
    "btg-justification-missing", 3, "Break-the-glass needs a written justification."
)
BTG_OPPOSED = _r("btg-opposed", 3, "The patient opposes break-the-glass access.")
BTG_GRANTED = _r("btg-granted", 3, "Break-the-glass access (traced and notified).")
CENTRE15_NOT_REGULATOR = _r(
    "centre15-not-regulator", 3, "Centre-15 access is reserved to the regulating physician."
)
CENTRE15_OPPOSED = _r("centre15-opposed", 3, "The patient opposes centre-15 access.")
CENTRE15_GRANTED = _r("centre15-granted", 3, "Centre-15 regulation access (traced and notified).")

# Rule 4: care relationship.
CARE_TEAM = _r("care-team", 4, "Member of the patient's care team.")
EXPLICIT_CONSENT = _r("explicit-consent", 4, "The patient consented to this professional.")
NO_RELATIONSHIP = _r(
    "no-relationship", 4, "No care relationship and no recorded consent of the patient."
)
OWN_RECORD = _r("own-record", 4, "The patient's own record.")
REPRESENTATIVE = _r("representative", 4, "The legal representative of the patient.")
GROUP_MEMBER = _r("group-member", 4, "The patient is a resident of the caller's group.")
NOT_IN_GROUP = _r("not-in-group", 4, "The patient is not a resident of the caller's group.")
EMERGENCY_ONLY = _r("emergency-only", 4, "An emergency read needs no care relationship.")
RECORD_OPENING = _r("record-opening", 4, "Opening a record needs no prior relationship.")
CONSENT_RECORDING = _r(
    "consent-recording", 4, "A professional records the patient's consent to their own access."
)
CONSENT_BY_PATIENT_ONLY = _r(
    "consent-by-patient-only",
    4,
    "The patient opposed the care-team presumption: only the patient grants access.",
)

# Rule 5: the matrix (profession x document class).
MATRIX_ALLOWED = _r("matrix-allowed", 5, "The matrix allows this profession this class.")
CLASS_ALLOWED = _r("class-allowed", 5, "This kind of caller may act on this class.")
MATRIX_DENIED = _r("matrix-denied", 5, "The matrix does not allow this profession this class.")
TYPE_DENIED = _r("type-denied", 5, "The matrix excludes this document type for the profession.")
PATIENT_CLASS_DENIED = _r(
    "patient-class-denied", 5, "Patients write only their own documents and choices."
)
CONSENT_DENIED = _r(
    "consent-denied", 5, "Professionals only see and record consents to their own access."
)
AUDIT_NOT_CLINICAL = _r("audit-not-for-caller", 5, "This caller may not read audit events.")

# Rule 6: visibility labels.
LABELS_ALLOW = _r("labels-allow", 6, "No visibility label hides the resource from the caller.")
MASKED = _r("masked", 6, "Masked from professionals (MASQUE_PS or V).")
INVISIBLE_PATIENT = _r("invisible-patient", 6, "Hidden from the patient until announced.")
INVISIBLE_REPRESENTATIVES = _r(
    "invisible-representatives", 6, "Hidden from the patient's legal representatives."
)
RESTRICTED_EMERGENCY = _r(
    "restricted-emergency", 6, "Restricted (R) data is not shown in emergency modes."
)
CUMUL_REFUSED = _r("cumul-refused", 6, "MASQUE_PS and INVISIBLE_PATIENT may not be combined.")
LABEL_ADD_REFUSED = _r("label-add-refused", 6, "The caller may not add this security label.")
LABELS_OK = _r("labels-ok", 6, "The security labels may be set.")

# Rule 7: writes.
NOT_AUTHOR = _r("not-author", 7, "Only the author may change or delete this resource.")
SUBJECT_CHANGE = _r("subject-change", 7, "Nobody may change the patient a resource is about.")
WRITE_RULES_OK = _r("write-rules-ok", 7, "The write rules allow this action.")
IDENTITY_CHANGE = _r("identity-change", 7, "An update must keep the resource type and id.")

# Rule 8: the explicit deny-all at the end.
NO_AUTHORISATION = _r("no-authorisation", 8, "No rule authorised this access.")

REASONS: dict[str, Reason] = dict(_ALL)
"""Every reason, by code (for ``/access/explain`` and documentation)."""
