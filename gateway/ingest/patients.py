"""The patient side of every result: matching keys, and the Patient entry or reference.

Format-agnostic (HL7 PID, CSV roster, CSV clinical rows). The rules:

- keys are ordered INS first, then the source's local id (DOMAIN.md §1: match on INS,
  else on the local id; never on traits alone);
- a payload that describes the patient (a PID, a roster row) adds a Patient entry,
  a conditional create on its strongest key, with a fullUrl shared by every payload
  naming that key;
- a payload that only *refers* to a patient (a CSV vitals row) adds no entry: its
  resources hold a conditional reference ``Patient?identifier=…`` to an existing
  Patient, so an unknown resident fails the transaction instead of creating a
  phantom Patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.ingest.assembly import Assembly
from gateway.ingest.result import PatientKey, PatientRef, PatientTraits
from gateway.normalise.identifiers import NormalisedIdentifier

# FR Core 2.2.0 patient extensions (fr-core-patient, fr-core-patient-ins).
IDENTITY_RELIABILITY = (
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
)
RELIABILITY_SYSTEM = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445"
BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
INSEE_CODE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
INSEE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"


def patient_key(identifier: NormalisedIdentifier) -> PatientKey:
    """The matching key of a normalised patient identifier."""
    kind = identifier.kind
    if kind == "ins-nir" or kind == "ins-nia" or kind == "ins-nir-test" or kind == "ins-nir-demo":
        return PatientKey(identifier.system, identifier.value, kind)
    return PatientKey(identifier.system, identifier.value, "local")


def ordered(identifiers: Sequence[NormalisedIdentifier]) -> list[NormalisedIdentifier]:
    """Distinct identifiers, INS first (stable otherwise)."""
    seen: set[str] = set()
    out = []
    for ident in identifiers:
        if ident.token not in seen:
            seen.add(ident.token)
            out.append(ident)
    out.sort(key=lambda i: 0 if i.is_ins else 1)
    return out


def traits_of(resource: dict[str, Any], birth_place: str | None = None) -> PatientTraits:
    names = resource.get("name", [])
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    return PatientTraits(
        family=official.get("family"),
        given=tuple(official.get("given", ())),
        birth_date=resource.get("birthDate"),
        gender=resource.get("gender"),
        birth_place=birth_place,
    )


def add_patient(
    asm: Assembly,
    resource: dict[str, Any],
    keys: Sequence[NormalisedIdentifier],
    *,
    update: bool,
    birth_place: str | None = None,
) -> PatientRef:
    """Add the Patient (conditional create on its strongest key); ``keys`` must not be empty."""
    patient_keys = tuple(patient_key(k) for k in keys)
    strongest = patient_keys[0]
    reference = asm.add(
        resource,
        asm.shared_urn(f"Patient|{strongest.token}"),
        if_none_exist=strongest.search,
    )
    return PatientRef(reference, patient_keys, traits_of(resource, birth_place), True, update)


def refer_to_patient(keys: Sequence[NormalisedIdentifier]) -> PatientRef:
    """A conditional reference to an existing Patient on the strongest key; no entry."""
    patient_keys = tuple(patient_key(k) for k in keys)
    return PatientRef(patient_keys[0].conditional_reference, patient_keys, in_bundle=False)


def local_key(patient: PatientRef) -> str:
    """The patient part of a natural key: the source's local id, else the INS.

    Two channels of one source (its HL7 feed and its CSV export) both carry its local
    ids, so natural keys built on them match across channels.
    """
    key = next((k for k in patient.keys if not k.is_ins), patient.keys[0])
    return key.token
