"""Building :class:`PatientFacts` from the patient's FHIR resources (pure).

The caller loads, for one patient, the Consent and CareTeam resources, the Patient
resource itself (for ``generalPractitioner``, the declared treating physician), the ids of
the Groups the patient belongs to, and a map from literal references of practitioners and
organisations to their national ids. Nothing here reads a database.

Care relationships (CSP R1111-46, L1110-12): every active CareTeam whose subject is the
patient contributes its current participants (Practitioner / PractitionerRole -> idNat_PS,
Organization -> idNat_Struct); ``Patient.generalPractitioner`` and ``declared_treating``
add declared treating relationships. Consent shapes: :mod:`gateway.policy.consent_shapes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from gateway.policy import consent_shapes as cs
from gateway.policy.facts import ConsentSummary, PatientFacts


def _ref_of(value: object) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("reference"), str):
        return str(value["reference"])
    if isinstance(value, Mapping) and isinstance(value.get("identifier"), Mapping):
        ident = value["identifier"]
        return ident.get("value") if isinstance(ident.get("value"), str) else None
    return None


def _about_patient(resource: Mapping[str, Any], key: str, refs: frozenset[str]) -> bool:
    return _ref_of(resource.get(key)) in refs


def summarise_consent(
    consent: Mapping[str, Any], references: Mapping[str, str] | None = None
) -> ConsentSummary:
    """What a Consent says, for :attr:`ResourceFacts.consent` (status and period ignored:
    this describes the resource being written, not whether it is in force)."""
    choices = cs.read_consent(consent, references or {})
    return ConsentSummary(
        shapes=frozenset(c.shape for c in choices),
        actors=frozenset(c.actor.id for c in choices if c.actor is not None),
    )


def _care_team_members(
    care_teams: Iterable[Mapping[str, Any]],
    refs: frozenset[str],
    references: Mapping[str, str],
    now: datetime,
) -> tuple[set[str], set[str]]:
    professionals: set[str] = set()
    structures: set[str] = set()
    for team in care_teams:
        if team.get("status") != "active" or not _about_patient(team, "subject", refs):
            continue
        if cs.in_period(team, now) is not True:
            continue
        participants = team.get("participant")
        for participant in participants if isinstance(participants, list) else []:
            if not isinstance(participant, Mapping) or cs.in_period(participant, now) is not True:
                continue
            actor = cs.resolve_actor(participant.get("member"), references)
            if actor is not None:
                (professionals if actor.kind == "professional" else structures).add(actor.id)
    return professionals, structures


def patient_facts_from_consents(
    consents: Iterable[Mapping[str, Any]],
    care_teams: Iterable[Mapping[str, Any]],
    *,
    patient_refs: Iterable[str],
    references: Mapping[str, str],
    now: datetime,
    patient: Mapping[str, Any] | None = None,
    declared_treating: Iterable[str] = (),
    groups: Iterable[str] = (),
    legal_representatives: Iterable[str] = (),
    record_closed: bool = False,
) -> PatientFacts:
    """The patient's facts from their resources.

    - ``patient_refs``: every key the patient is known by (``Patient/123``, the INS value);
    - ``references``: literal reference -> idNat_PS (Practitioner, PractitionerRole) or
      idNat_Struct (Organization), for actors and care-team members;
    - ``now``: an aware datetime; provisions and participations outside their period are
      not in force;
    - ``declared_treating``: idNat_PS of declared treating relationships kept elsewhere;
    - ``groups``: ids of the Groups (EHPAD residents) the patient is a member of;
    - ``record_closed``: the record's own state, OR-ed with a ``closed`` Consent.
    """
    refs = frozenset(patient_refs)
    flags: set[str] = set()
    actors: dict[str, set[str]] = {
        cs.BLOCKED_PROFESSIONAL: set(),
        cs.BLOCKED_STRUCTURE: set(),
        cs.DESIGNATION: set(),
        cs.ACCESS_GRANT: set(),
    }
    unreadable: list[str] = []
    for consent in consents:
        if not cs.is_privacy_consent(consent):
            continue
        label = f"Consent/{consent.get('id')}"
        if not _about_patient(consent, "patient", refs):
            unreadable.append(f"{label}: patient-privacy consent of another patient")
            continue
        for choice in cs.read_consent(consent, references, now):
            if choice.shape == cs.UNREADABLE:
                unreadable.append(f"{label}: {choice.detail}")
            elif choice.actor is not None and choice.shape in actors:
                actors[choice.shape].add(choice.actor.id)
            else:
                flags.add(choice.shape)
    professionals, structures = _care_team_members(care_teams, refs, references, now)
    professionals.update(declared_treating)
    if patient is not None:
        gps = patient.get("generalPractitioner")
        for ref in gps if isinstance(gps, list) else []:
            actor = cs.resolve_actor(ref, references)
            if actor is not None:
                (professionals if actor.kind == "professional" else structures).add(actor.id)
    return PatientFacts(
        patient_refs=refs,
        record_closed=record_closed or cs.CLOSED_RECORD in flags,
        general_opposition=cs.GENERAL_OPPOSITION in flags,
        care_team_opposition=cs.CARE_TEAM_OPPOSITION in flags,
        btg_opposition=cs.BTG_OPPOSITION in flags,
        centre15_opposition=cs.CENTRE15_OPPOSITION in flags,
        masked_emergency_consent=cs.MASKED_EMERGENCY in flags,
        blocked_professionals=frozenset(actors[cs.BLOCKED_PROFESSIONAL]),
        blocked_structures=frozenset(actors[cs.BLOCKED_STRUCTURE]),
        care_team_professionals=frozenset(professionals),
        care_team_structures=frozenset(structures),
        designated_professionals=frozenset(actors[cs.DESIGNATION]),
        consented_professionals=frozenset(actors[cs.ACCESS_GRANT]),
        groups=frozenset(groups),
        legal_representatives=frozenset(legal_representatives),
        unreadable=tuple(unreadable),
        actor_references=tuple(sorted(references.items())),
    )
