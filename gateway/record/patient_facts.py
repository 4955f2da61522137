"""Loading a patient's access facts from the database (DOMAIN.md §3).

The facts are the patient's identity keys (``Patient/id`` and the INS values), their
Consents, CareTeams, EHPAD Groups, and the identifiers (idNat_PS, idNat_Struct) of every
professional and structure those resources name. The policy engine then reads them
(:func:`gateway.policy.patient_facts_from_consents`); this module only fetches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def _resolve(tx: StoreTx, refs: set[str]) -> dict[str, str]:
    """Literal references → idNat_PS (Practitioner, PractitionerRole) or idNat_Struct."""
    out: dict[str, str] = {}
    for ref in refs:
        parsed = parse_reference(ref)
        if parsed is None:
            continue
        body = _body(tx.current(parsed.resource_type, parsed.id))
        if parsed.resource_type == "Practitioner":
            found = _identifier(body, [IDNAT_PS])
        elif parsed.resource_type == "PractitionerRole":
            practitioner = (body or {}).get("practitioner") or {}
            inner = parse_reference(str(practitioner.get("reference", "")))
            found = (
                _identifier(_body(tx.current("Practitioner", inner.id)), [IDNAT_PS])
                if inner is not None and inner.resource_type == "Practitioner"
                else None
            )
        elif parsed.resource_type == "Organization":
            found = _identifier(body, [IDNAT_STRUCT])
        else:
            found = None
        if found is not None:
            out[ref] = found
    return out


def load_patient_facts(tx: StoreTx, patient_id: str, *, now: datetime) -> PatientFacts:
    """Everything the access rules need to know about one patient, read in this transaction."""
    patient = _body(tx.current("Patient", patient_id))
    refs = {f"Patient/{patient_id}"}
    for ident in (patient or {}).get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") in INS_SYSTEMS:
            value = ident.get("value")
            if isinstance(value, str):
                refs.add(value)
    consents = [b for v in tx.current_of_patient("Consent", patient_id) if (b := _body(v))]
    teams = [b for v in tx.current_of_patient("CareTeam", patient_id) if (b := _body(v))]
    named: set[str] = set()
    for resource in [*consents, *teams, *([patient] if patient else [])]:
        for holder in iter_reference_holders(resource):
            ref = holder["reference"]
            if ref.startswith(("Practitioner/", "PractitionerRole/", "Organization/")):
                named.add(ref)
    groups = tx.referring("Group", "member", ("Patient", patient_id))
    return patient_facts_from_consents(
        consents,
        teams,
        patient_refs=refs,
        references=_resolve(tx, named),
        now=now,
        patient=patient,
        groups=groups,
    )
