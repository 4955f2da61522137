"""Reading the patient's choices out of FHIR Consent resources (R4 §Consent).

A Consent counts when ``status`` is ``active``, ``scope`` is ``patient-privacy`` and
``patient`` is the patient. Each provision (the top one and every nested one) is read on
its own, by its ``type``, and becomes one :class:`Choice`:

Fixed shapes (vendors rely on them, issue #6):

- ``deny`` + ``actor.reference`` -> Practitioner or PractitionerRole: **blocked
  professional**; -> Organization: **blocked structure** (our extension);
- ``deny`` + ``purpose`` ``v3-ActReason|BTG``: **opposition to break-the-glass**;
- ``deny`` + ``purpose`` ``v3-ActReason|ETREAT``: **opposition to centre-15 access**.

Shapes defined here (documented with examples in ``gateway/policy/README.md``):

- ``permit`` + ``actor`` (Practitioner) + ``securityLabel`` TRE_A07 ``MASQUE_PS``:
  **designated professional** (sees masked documents);
- ``permit`` + ``purpose`` BTG and/or ETREAT + ``securityLabel`` ``MASQUE_PS``, no actor:
  the **MASKED emergency consent** (emergency modes see masked documents);
- ``permit`` + ``actor`` (Practitioner), no label, no purpose other than ``TREAT``:
  **explicit consent** (access grant) to that professional;
- a top-level ``deny`` with no actor, purpose, label or data constraint (nested ``permit``
  provisions may name exceptions): **opposition to the care-team presumption**; only the
  professionals the patient explicitly consents to may access (CSP L1111-17, rule 4);
- ``policyRule`` ``v3-ActCode|OPTOUT`` with a ``deny`` (or no) provision: **general
  opposition** (nobody, consent or not; rule 2);
- ``policyRule`` ``https://dmp-gateway.fr/fhir/CodeSystem/record-policy|closed`` with a
  ``deny`` (or no) provision: **closed record**.

Fail closed: a ``deny`` we cannot read (unknown purpose, an unresolved actor, a label or a
data constraint we do not model) makes the facts *unreadable*, which refuses professionals
until the patient fixes it. A ``permit`` we cannot read is ignored (it grants nothing).
A deny with an actor blocks that actor entirely, whatever else narrows it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.fhir.identifiers import IDNAT_PS, IDNAT_STRUCT
from gateway.policy.labels import MASQUE_PS, canonical_label

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RECORD_POLICY = "https://dmp-gateway.fr/fhir/CodeSystem/record-policy"

BLOCKED_PROFESSIONAL = "blocked-professional"
BLOCKED_STRUCTURE = "blocked-structure"
BTG_OPPOSITION = "btg-opposition"
CENTRE15_OPPOSITION = "centre15-opposition"
GENERAL_OPPOSITION = "general-opposition"
CLOSED_RECORD = "closed-record"
DESIGNATION = "designation"
MASKED_EMERGENCY = "masked-emergency"
ACCESS_GRANT = "access-grant"
CARE_TEAM_OPPOSITION = "care-team-opposition"
IGNORED = "ignored"
UNREADABLE = "unreadable"

_EMERGENCY = frozenset({(ACT_REASON, "BTG"), (ACT_REASON, "ETREAT")})
_PERMIT_PURPOSES = frozenset({(ACT_REASON, "TREAT")})
_UNMODELLED = ("class", "code", "data", "dataPeriod")
_PROFESSIONAL_TYPES = ("Practitioner/", "PractitionerRole/")


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # "professional" (idNat_PS) or "structure" (idNat_Struct)
    id: str


@dataclass(frozen=True, slots=True)
class Choice:
    shape: str
    actor: Actor | None = None
    detail: str = ""


def resolve_actor(reference: object, references: Mapping[str, str]) -> Actor | None:
    """An actor from a Reference: a logical identifier (idNat_PS / idNat_Struct) or a
    literal reference looked up in ``references`` (``Practitioner/1`` -> idNat_PS,
    ``Organization/2`` -> idNat_Struct)."""
    if not isinstance(reference, Mapping):
        return None
    literal = reference.get("reference")
    if isinstance(literal, str):
        target = references.get(literal)
        if target is None:
            return None
        if literal.startswith(_PROFESSIONAL_TYPES):
            return Actor("professional", target)
        if literal.startswith("Organization/"):
            return Actor("structure", target)
        return None
    identifier = reference.get("identifier")
    if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
        if identifier.get("system") == IDNAT_PS:
            return Actor("professional", identifier["value"])
        if identifier.get("system") == IDNAT_STRUCT:
            return Actor("structure", identifier["value"])
    return None


def _codings(value: object) -> Iterator[tuple[str, str]]:
    """(system, code) pairs from a Coding list or a CodeableConcept list."""
    if not isinstance(value, list):
        return
    for item in value:
        if not isinstance(item, Mapping):
            yield ("", "")
            continue
        inner = item.get("coding")
        for coding in inner if isinstance(inner, list) else [item]:
            if isinstance(coding, Mapping):
                system, code = coding.get("system"), coding.get("code")
                yield (
                    system if isinstance(system, str) else "",
                    code if isinstance(code, str) else "",
                )
            else:
                yield ("", "")


def _parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def in_period(provision: Mapping[str, Any], now: datetime | None) -> bool | None:
    """True/False when the period decides; None when it is unreadable."""
    period = provision.get("period")
    if period is None or now is None:
        return True
    if not isinstance(period, Mapping):
        return None
    for key in ("start", "end"):
        if key in period and _parse_instant(period[key]) is None:
            return None
    start, end = _parse_instant(period.get("start")), _parse_instant(period.get("end"))
    return (start is None or start <= now) and (end is None or now < end)


def _policy_rules(consent: Mapping[str, Any]) -> set[tuple[str, str]]:
    rule = consent.get("policyRule")
    return set(_codings([rule])) if isinstance(rule, Mapping) else set()


def is_privacy_consent(consent: Mapping[str, Any]) -> bool:
    """An active ``patient-privacy`` Consent: the only kind that carries choices."""
    scope = consent.get("scope")
    scopes = set(_codings([scope])) if isinstance(scope, Mapping) else set()
    return consent.get("status") == "active" and (CONSENT_SCOPE_SYSTEM, "patient-privacy") in scopes


def read_consent(
    consent: Mapping[str, Any],
    references: Mapping[str, str],
    now: datetime | None = None,
) -> list[Choice]:
    """Every choice a Consent expresses (status, scope and patient are checked by the
    caller). Provisions outside their period are skipped when ``now`` is given."""
    rules = _policy_rules(consent)
    provision = consent.get("provision")
    record_level = {
        (ACT_CODE, "OPTOUT"): GENERAL_OPPOSITION,
        (RECORD_POLICY, "closed"): CLOSED_RECORD,
    }
    levels = [shape for code, shape in record_level.items() if code in rules]
    if levels:
        if provision is None or (
            isinstance(provision, Mapping) and provision.get("type") == "deny"
        ):
            return [Choice(shape) for shape in levels]
        return [Choice(UNREADABLE, detail="record-level policy with a non-deny provision")]
    if not isinstance(provision, Mapping):
        return [Choice(UNREADABLE, detail="no provision")]
    return list(_read_provision(provision, references, now, top=True))


def _read_provision(
    provision: Mapping[str, Any],
    references: Mapping[str, str],
    now: datetime | None,
    *,
    top: bool,
) -> Iterator[Choice]:
    kind = provision.get("type")
    nested = provision.get("provision")
    children = [p for p in nested if isinstance(p, Mapping)] if isinstance(nested, list) else []
    if isinstance(nested, list) and len(children) != len(nested) and kind != "permit":
        yield Choice(UNREADABLE, detail="malformed nested provision")
    active = in_period(provision, now)
    if active is None:
        yield Choice(UNREADABLE if kind != "permit" else IGNORED, detail="unreadable period")
    elif active:
        if kind == "deny":
            yield from _read_deny(provision, references, top=top)
        elif kind == "permit":
            yield from _read_permit(provision, references)
        else:
            yield Choice(UNREADABLE, detail="provision without a type")
    for child in children:
        yield from _read_provision(child, references, now, top=False)


def _actors(provision: Mapping[str, Any]) -> list[object]:
    actors = provision.get("actor")
    if not isinstance(actors, list):
        return [] if actors is None else [None]
    return [a.get("reference") if isinstance(a, Mapping) else None for a in actors]


def _read_deny(
    provision: Mapping[str, Any], references: Mapping[str, str], *, top: bool
) -> Iterator[Choice]:
    actors = _actors(provision)
    if actors:
        for ref in actors:
            actor = resolve_actor(ref, references)
            if actor is None:
                yield Choice(UNREADABLE, detail="unresolved actor in a deny provision")
            elif actor.kind == "professional":
                yield Choice(BLOCKED_PROFESSIONAL, actor)
            else:
                yield Choice(BLOCKED_STRUCTURE, actor)
        return
    purposes = set(_codings(provision.get("purpose")))
    labels = provision.get("securityLabel")
    if purposes:
        if (ACT_REASON, "BTG") in purposes:
            yield Choice(BTG_OPPOSITION)
        if (ACT_REASON, "ETREAT") in purposes:
            yield Choice(CENTRE15_OPPOSITION)
        if purposes - _EMERGENCY or labels or any(k in provision for k in _UNMODELLED):
            yield Choice(UNREADABLE, detail="deny with an unmodelled constraint")
        return
    if labels or any(k in provision for k in _UNMODELLED):
        yield Choice(UNREADABLE, detail="deny with an unmodelled constraint")
    elif top:
        yield Choice(CARE_TEAM_OPPOSITION)
    else:
        yield Choice(UNREADABLE, detail="unconstrained nested deny")


def _read_permit(provision: Mapping[str, Any], references: Mapping[str, str]) -> Iterator[Choice]:
    if any(k in provision for k in _UNMODELLED):
        yield Choice(IGNORED, detail="permit narrowed by an unmodelled constraint")
        return
    labels = {canonical_label(s, c) for s, c in _codings(provision.get("securityLabel"))}
    purposes = set(_codings(provision.get("purpose")))
    actors = [resolve_actor(ref, references) for ref in _actors(provision)]
    if labels == {MASQUE_PS} and not actors and purposes and purposes <= _EMERGENCY:
        yield Choice(MASKED_EMERGENCY)
        return
    if labels == {MASQUE_PS} and actors and not purposes:
        shape = DESIGNATION
    elif not labels and actors and purposes <= _PERMIT_PURPOSES:
        shape = ACCESS_GRANT
    else:
        yield Choice(IGNORED, detail="permit of an unknown shape")
        return
    for actor in actors:
        if actor is not None and actor.kind == "professional":
            yield Choice(shape, actor)
        else:
            yield Choice(IGNORED, detail="permit for an actor that is not a professional")
