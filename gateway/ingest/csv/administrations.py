"""``administrations``: one row → one MedicationAdministration (EHPAD nurse traceability).

The medication code goes through :func:`gateway.normalise.medication.medication_code`
(CIP13, UCD, CIS, ATC; the ``type de code`` column names the system, else the code's shape
does); the route through the ``RouteToEdqm`` ConceptMap; the status through the
mapping's ``values``. The identifier is the natural key shared with HL7 RAS^O17
(resident's local id, medication code, time).
"""

from __future__ import annotations

from typing import Any

from gateway.ingest.assembly import NURSE, PHARMACIST, PHYSICIAN, PROFESSION_SYSTEM
from gateway.ingest.csv.common import resident
from gateway.ingest.csv.rows import Row
from gateway.ingest.issues import CsvLocation, warning
from gateway.ingest.patients import local_key
from gateway.ingest.quantities import dose_quantity
from gateway.ingest.result import PatientRef
from gateway.normalise.codes import route
from gateway.normalise.errors import NormalisationError
from gateway.normalise.medication import medication_code
from gateway.normalise.terminology import Coding


def _medication(row: Row) -> tuple[dict[str, Any] | None, str]:
    """The CodeableConcept and the key part (``system|code``, else the label)."""
    asm = row.asm
    code, label = row.text("medication_code"), row.text("medication_label")
    concept: dict[str, Any] = {}
    key = label
    if code:
        try:
            found = medication_code(
                code,
                row.text("medication_system") or None,
                asm.terminology,
                asm.source,
                label or None,
            )
        except NormalisationError as exc:
            row.refuse(exc, "medication_code")
            return None, ""
        asm.assume(found.assumption, row.location("medication_code"))
        concept["coding"] = [found.coding.to_fhir()]
        key = f"{found.coding.system}|{found.coding.code}"
    elif label:
        asm.report(
            warning(
                "no medication code: the label alone is kept",
                row.location("medication_label"),
                expression="MedicationAdministration.medication",
            )
        )
    if label:
        concept["text"] = label
    return (concept or None), key


def build(row: Row) -> PatientRef | None:
    asm = row.asm
    patient = resident(row)
    when = row.when()
    concept, med_key = _medication(row)
    status = row.code("status")
    if patient is None or when is None or concept is None or status is None:
        return patient
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "identifier": [asm.natural_id("administration", local_key(patient), med_key, when.value)],
        "status": status,
    }
    if status == "not-done" and row.text("reason"):
        resource["statusReason"] = [{"text": row.text("reason")}]
    resource["medicationCodeableConcept"] = concept
    resource["subject"] = {"reference": patient.reference}
    resource["effectiveDateTime"] = when.value
    who = row.professional("author", "author_name")
    if who is not None:
        code = row.mapping.column("author").profession
        known = {c.code: c for c in (NURSE, PHARMACIST, PHYSICIAN)}
        profession = known.get(code, Coding(PROFESSION_SYSTEM, code)) if code else None
        role = asm.practitioner_role(who, profession)
        resource["performer"] = [{"actor": {"reference": role}}]
        asm.author = role
    if row.text("prescription"):
        resource["request"] = {
            "type": "MedicationRequest",
            "identifier": asm.business_id("order", row.text("prescription")),
        }
    if row.text("comment"):
        resource["note"] = [{"text": row.text("comment")}]
    dosage: dict[str, Any] = {}
    route_text = row.text("route")
    if route_text:
        mapped = route(route_text, asm.terminology)
        if mapped is not None:
            dosage["route"] = {"coding": [mapped.to_fhir()], "text": route_text}
        else:
            dosage["route"] = {"text": route_text}
            asm.report(
                warning(
                    f"route {route_text!r} has no EDQM mapping: kept as text", row.location("route")
                )
            )
    dose = dose_quantity(
        row.text("dose"),
        (row.text("dose_unit"),),
        asm,
        row.location("dose"),
        "MedicationAdministration.dosage.dose",
    )
    if dose:
        dosage["dose"] = dose
    if dosage:
        resource["dosage"] = dosage
    asm.add(
        resource,
        asm.urn("MedicationAdministration"),
        if_none_exist=asm.condition(resource["identifier"][0]),
        location=CsvLocation(row.line),
    )
    return patient
