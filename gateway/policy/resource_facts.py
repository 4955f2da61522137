"""Building :class:`ResourceFacts` from a FHIR resource (pure, best effort).

The patient is found in the element that defines the resource's Patient compartment
(https://hl7.org/fhir/R4/compartmentdefinition-patient.html): ``patient``, ``subject``,
``beneficiary``, ``individual``; an AuditEvent's ``entity.what``; a Patient is its own.
A reference counts when it is a literal ``Patient/<id>`` or a logical reference by INS.
The caller may pass ``patient=`` from its own compartment index instead.

The author is *not* read from the content (a client could claim any author): the caller
passes who created the resource, as recorded at write time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.fhir.identifiers import INS_SYSTEMS
from gateway.policy.classes import BY_DOCUMENT_TYPE, ResourceClasses
from gateway.policy.consent import summarise_consent
from gateway.policy.facts import ResourceFacts
from gateway.policy.labels import labels_of

_PATIENT_ELEMENTS = ("patient", "subject", "beneficiary", "individual")


def patient_key(reference: object) -> str | None:
    """``Patient/<id>`` for a literal reference, the INS for a logical one, else None."""
    if not isinstance(reference, Mapping):
        return None
    literal = reference.get("reference")
    if isinstance(literal, str):
        return literal if literal.startswith("Patient/") and literal.count("/") == 1 else None
    identifier = reference.get("identifier")
    if not isinstance(identifier, Mapping):
        return None
    system, value = identifier.get("system"), identifier.get("value")
    if isinstance(system, str) and system in INS_SYSTEMS and isinstance(value, str):
        return value
    return None


def patient_of(resource: Mapping[str, Any]) -> str | None:
    """The patient a resource belongs to, or None."""
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        rid = resource.get("id")
        return f"Patient/{rid}" if isinstance(rid, str) else None
    if rtype == "AuditEvent":
        entities = resource.get("entity")
        for entity in entities if isinstance(entities, list) else []:
            key = patient_key(entity.get("what")) if isinstance(entity, Mapping) else None
            if key is not None:
                return key
        return None
    for element in _PATIENT_ELEMENTS:
        value = resource.get(element)
        key = patient_key(value[0] if isinstance(value, list) and value else value)
        if key is not None:
            return key
    return None


def resource_facts(
    resource: Mapping[str, Any],
    *,
    classes: ResourceClasses,
    author: str | None = None,
    author_structure: str | None = None,
    created_at: datetime | None = None,
    announced_at: datetime | None = None,
    patient: str | None = None,
    references: Mapping[str, str] | None = None,
) -> ResourceFacts:
    rtype = resource.get("resourceType")
    rid = resource.get("id")
    is_document = classes.types.get(rtype) == BY_DOCUMENT_TYPE if isinstance(rtype, str) else False
    return ResourceFacts(
        type=rtype if isinstance(rtype, str) else "",
        id=rid if isinstance(rid, str) else None,
        patient=patient if patient is not None else patient_of(resource),
        author=author,
        author_structure=author_structure,
        labels=labels_of(resource),
        document_class=classes.class_of(resource),
        document_type=classes.document_type_of(resource) if is_document else None,
        created_at=created_at,
        announced_at=announced_at,
        consent=summarise_consent(resource, references) if rtype == "Consent" else None,
    )
