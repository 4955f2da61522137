"""RAS^O17 (pharmacy/treatment administration, EHPAD nurses) → MedicationAdministration.

RXA (HL7 v2-to-FHIR IG, RXA → MedicationAdministration): medication RXA-5 (CIP13/UCD/ATC),
effective RXA-3 (RXA-4 when it differs: a period), dose RXA-6/RXA-7, route RXR-1,
status RXA-20 (``CP`` completed, ``RE``/``NA`` not-done with reason RXA-18, ``PA``
stopped; RXA-21 ``D`` entered-in-error), performer RXA-10 as a nurse PractitionerRole,
request ORC-2 as a logical reference to the MedicationRequest.

Identifier ``administration``: always a natural key (patient local id, medication code,
RXA-3 instant), the one the CSV ``administrations`` export of the same source computes,
so the same act sent both ways is stored once. Caveat: two administrations of the same
product to the same resident in the same second would be taken for one.
"""

from __future__ import annotations

from typing import Any

from gateway.ingest.assembly import NURSE, Assembly
from gateway.ingest.hl7v2.datatypes import cwe, ts, xcn
from gateway.ingest.hl7v2.er7 import Er7Message
from gateway.ingest.hl7v2.orders import (
    Item,
    OrderGroup,
    medication_concept,
    order_groups,
    route_concept,
)
from gateway.ingest.hl7v2.patient import read_patient
from gateway.ingest.hl7v2.pharmacy import Outcome, missing_segment
from gateway.ingest.issues import GW_REQUIRED, HL7_REQUIRED_MISSING, error
from gateway.ingest.patients import local_key
from gateway.ingest.quantities import dose_quantity
from gateway.ingest.result import PatientRef

_ADMIN_STATUS = {"CP": "completed", "RE": "not-done", "NA": "not-done", "PA": "stopped"}


def administration(message: Er7Message, asm: Assembly) -> Outcome:
    """RAS^O17: one MedicationAdministration per RXA."""
    patient = read_patient(message, asm, update=False)
    groups = order_groups(message, frozenset({"RXA"}))
    if not any(g.items for g in groups):
        missing_segment(asm, message, "RXA")
    if patient is None:
        return None, ()
    for group in groups:
        for item in group.items:
            _administration(group, item, patient, asm)
    return patient, ()


def _administration(group: OrderGroup, item: Item, patient: PatientRef, asm: Assembly) -> None:
    rxa = item.segment
    concept, code = medication_concept(rxa.first(5), asm, "MedicationAdministration.medication")
    start = ts(rxa.first(3), asm, "MedicationAdministration.effective")
    end = ts(rxa.first(4), asm, "MedicationAdministration.effective")
    # Always the natural key, never the order number: the CSV export of the same act
    # has no RXA counters, and the same administration must dedup across channels.
    med = f"{code.coding.system}|{code.coding.code}" if code else rxa.value(5)
    identifier = asm.natural_id(
        "administration", local_key(patient), med, start.value if start else ""
    )
    completion = rxa.value(20).upper()
    status = _ADMIN_STATUS.get(completion)
    if rxa.value(21).upper() == "D":
        status = "entered-in-error"
    if status is None:
        status = "completed"
        if completion:
            asm.assume(f"completion status {completion!r} read as completed", rxa.at(20))
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "identifier": [identifier],
        "status": status,
    }
    reason = cwe(rxa.first(18), asm)
    if reason and status == "not-done":
        resource["statusReason"] = [reason]
    if concept:
        resource["medicationCodeableConcept"] = concept
    else:
        asm.report(
            error(
                "no medication code (RXA-5)",
                rxa.at(5),
                code="required",
                expression="MedicationAdministration.medication",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_REQUIRED_MISSING,
            )
        )
    resource["subject"] = {"reference": patient.reference}
    if start is None:
        asm.report(
            error(
                "no administration time (RXA-3)",
                rxa.at(3),
                code="required",
                expression="MedicationAdministration.effective",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_REQUIRED_MISSING,
            )
        )
    elif end is not None and end.value != start.value:
        resource["effectivePeriod"] = {"start": start.value, "end": end.value}
    else:
        resource["effectiveDateTime"] = start.value
    nurse = xcn(rxa.first(10), asm, "MedicationAdministration.performer")
    if nurse:
        role = asm.practitioner_role(nurse, NURSE)
        resource["performer"] = [{"actor": {"reference": role}}]
        asm.author = asm.author or role
    if group.placer():
        resource["request"] = {
            "type": "MedicationRequest",
            "identifier": asm.business_id("order", group.placer()),
        }
    dosage: dict[str, Any] = {}
    route = route_concept(item, asm)
    if route:
        dosage["route"] = route
    dose = dose_quantity(
        rxa.value(6),
        (rxa.value(7, 1), rxa.value(7, 2)),
        asm,
        rxa.at(6),
        "MedicationAdministration.dosage.dose",
    )
    if dose:
        dosage["dose"] = dose
    if dosage:
        resource["dosage"] = dosage
    asm.add(
        resource,
        asm.urn(f"MedicationAdministration|{rxa.location}"),
        if_none_exist=asm.condition(identifier),
        location=rxa.location,
    )
