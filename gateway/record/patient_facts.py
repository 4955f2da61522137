"""Loading a patient's access facts from the database (DOMAIN.md §3).

The facts are the patient's identity keys (``Patient/id`` and the INS values), their
Consents, CareTeams, EHPAD Groups, and the identifiers (idNat_PS, idNat_Struct) of every
professional and structure those resources name. The policy engine then reads them
(:func:`gateway.policy.patient_facts_from_consents`); this module only fetches.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson

from gateway.fhir.identifiers import IDNAT_PS, IDNAT_STRUCT, INS_SYSTEMS
from gateway.fhir.references import iter_reference_holders, parse_reference
from gateway.policy import PatientFacts, patient_facts_from_consents
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx


def _body(version: StoredVersion | None) -> dict[str, Any] | None:
    if version is None or version.deleted or version.content is None:
        return None
    value = orjson.loads(version.content)
    return value if isinstance(value, dict) else None


def _identifier(resource: Mapping[str, Any] | None, systems: Iterable[str]) -> str | None:
    wanted = set(systems)
    for ident in (resource or {}).get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") in wanted:
            value = ident.get("value")
            if isinstance(value, str):
                return value
    return None


# (type, id) -> the current version, or None: StoreTx.current, or a bulk read's answers.
Current = Callable[[str, str], StoredVersion | None]
_ACTOR_TYPES = ("Practitioner/", "PractitionerRole/", "Organization/")


def _resolve(current: Current, refs: Iterable[str]) -> dict[str, str]:
    """Literal references → idNat_PS (Practitioner, PractitionerRole) or idNat_Struct."""
    out: dict[str, str] = {}
    for ref in refs:
        parsed = parse_reference(ref)
        if parsed is None:
            continue
        body = _body(current(parsed.resource_type, parsed.id))
        if parsed.resource_type == "Practitioner":
            found = _identifier(body, [IDNAT_PS])
        elif parsed.resource_type == "PractitionerRole":
            inner = _role_practitioner(body)
            found = (
                _identifier(_body(current("Practitioner", inner)), [IDNAT_PS])
                if inner is not None
                else None
            )
        elif parsed.resource_type == "Organization":
            found = _identifier(body, [IDNAT_STRUCT])
        else:
            found = None
        if found is not None:
            out[ref] = found
    return out


def _role_practitioner(role: Mapping[str, Any] | None) -> str | None:
    """The id of the Practitioner a PractitionerRole names, if it names one."""
    practitioner = (role or {}).get("practitioner") or {}
    inner = parse_reference(str(practitioner.get("reference", "")))
    return inner.id if inner is not None and inner.resource_type == "Practitioner" else None


def _named(
    patient: dict[str, Any] | None, consents: list[dict[str, Any]], teams: list[dict[str, Any]]
) -> set[str]:
    """The professionals and structures the patient's resources name."""
    named: set[str] = set()
    for resource in [*consents, *teams, *([patient] if patient else [])]:
        for holder in iter_reference_holders(resource):
            ref = holder["reference"]
            if ref.startswith(_ACTOR_TYPES):
                named.add(ref)
    return named


def _assemble(
    patient_id: str,
    patient: dict[str, Any] | None,
    consents: list[dict[str, Any]],
    teams: list[dict[str, Any]],
    groups: list[str],
    references: dict[str, str],
    now: datetime,
) -> PatientFacts:
    refs = {f"Patient/{patient_id}"}
    for ident in (patient or {}).get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") in INS_SYSTEMS:
            value = ident.get("value")
            if isinstance(value, str):
                refs.add(value)
    return patient_facts_from_consents(
        consents,
        teams,
        patient_refs=refs,
        references=references,
        now=now,
        patient=patient,
        groups=groups,
    )


def load_patient_facts(tx: StoreTx, patient_id: str, *, now: datetime) -> PatientFacts:
    """Everything the access rules need to know about one patient, read in this transaction."""
    patient = _body(tx.current("Patient", patient_id))
    consents = [b for v in tx.current_of_patient("Consent", patient_id) if (b := _body(v))]
    teams = [b for v in tx.current_of_patient("CareTeam", patient_id) if (b := _body(v))]
    references = _resolve(tx.current, _named(patient, consents, teams))
    groups = tx.referring("Group", "member", ("Patient", patient_id))
    return _assemble(patient_id, patient, consents, teams, groups, references, now)


def load_patients_facts(
    tx: StoreTx, patient_ids: Collection[str], *, now: datetime
) -> dict[str, PatientFacts]:
    """:func:`load_patient_facts` of several patients, read in this transaction with a
    handful of queries in all instead of three or more per patient: the same reads,
    grouped (a CSV chunk names tens of patients)."""
    ids = set(patient_ids)
    if not ids:
        return {}
    patients = {
        rid: _body(v) for (_t, rid), v in tx.current_by_keys([("Patient", i) for i in ids]).items()
    }
    consents: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    teams: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for version in tx.current_of_patients(("Consent", "CareTeam"), ids):
        body = _body(version)
        if body and version.patient_id in ids:
            kind = consents if version.resource_type == "Consent" else teams
            kind[version.patient_id].append(body)
    groups = tx.referring_many("Group", "member", "Patient", ids)
    named = {i: _named(patients.get(i), consents[i], teams[i]) for i in ids}
    current = _bulk_current(tx, set().union(*named.values()))
    return {
        i: _assemble(
            i,
            patients.get(i),
            consents[i],
            teams[i],
            groups.get(i, []),
            _resolve(current, named[i]),
            now,
        )
        for i in ids
    }


def _bulk_current(tx: StoreTx, refs: set[str]) -> Current:
    """The current versions :func:`_resolve` reads for ``refs``, read in two queries
    (the references, then the Practitioners their PractitionerRoles name)."""
    keys = {(p.resource_type, p.id) for ref in refs if (p := parse_reference(ref)) is not None}
    found: dict[tuple[str, str], StoredVersion] = tx.current_by_keys(keys) if keys else {}
    inner = {
        ("Practitioner", rid)
        for (rtype, _id), version in found.items()
        if rtype == "PractitionerRole" and (rid := _role_practitioner(_body(version))) is not None
    } - keys
    if inner:
        found.update(tx.current_by_keys(inner))
    return lambda rtype, rid: found.get((rtype, rid))
