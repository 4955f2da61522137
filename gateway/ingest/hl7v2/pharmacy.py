"""Pharmacy messages RDS^O13 → MedicationDispense, RDE^O11 → MedicationRequest.

Mappings follow the HL7 v2-to-FHIR IG segment maps (RXD → MedicationDispense, RXE →
MedicationRequest), with French medication codes.

Business identifiers (in the source's systems; conditional creates on them):

- MedicationRequest ``order``: ORC-2 placer order number (else ORC-3), suffixed
  ``/n`` for the n-th RXE of a group after the first;
- MedicationDispense ``dispense``: ORC-3 (else ORC-2, else RXD-7 prescription
  number) + ``/`` + RXD-1 dispense sub-id;
- MedicationAdministration: see :mod:`.administration`.
"""

from __future__ import annotations

from typing import Any

from gateway.ingest.assembly import PHARMACIST, PHYSICIAN, Assembly
from gateway.ingest.hl7v2.datatypes import cwe, ts, xcn
from gateway.ingest.hl7v2.er7 import Er7Message
from gateway.ingest.hl7v2.orders import (
    Item,
    OrderGroup,
    medication_concept,
    order_groups,
    route_concept,
    timing_text,
)
from gateway.ingest.hl7v2.patient import read_patient
from gateway.ingest.issues import GW_REQUIRED, HL7_REQUIRED_MISSING, HL7_SEGMENT_SEQUENCE, error
from gateway.ingest.patients import local_key
from gateway.ingest.quantities import dose_quantity
from gateway.ingest.result import MergeInstruction, PatientRef

Outcome = tuple[PatientRef | None, tuple[MergeInstruction, ...]]

_REQUEST_STATUS = {
    "NW": "active",
    "XO": "active",
    "RP": "active",
    "RL": "active",
    "SC": "active",
    "CA": "cancelled",
    "OC": "cancelled",
    "CR": "cancelled",
    "DC": "stopped",
    "OD": "stopped",
    "HD": "on-hold",
    "OH": "on-hold",
}


def missing_segment(asm: Assembly, message: Er7Message, what: str) -> None:
    asm.report(
        error(
            f"the message has no {what} segment",
            message.msh.location,
            code="required",
            gateway_code=GW_REQUIRED,
            hl7_error=HL7_SEGMENT_SEQUENCE,
        )
    )


def _medication(item: Item, asm: Assembly, field: int, expression: str) -> str | None:
    """A Medication entry for a medication CWE; shared across payloads when coded alone."""
    concept, code = medication_concept(item.segment.first(field), asm, expression)
    if concept is None:
        asm.report(
            error(
                "no medication code",
                item.segment.at(field),
                code="required",
                expression=expression,
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_REQUIRED_MISSING,
            )
        )
        return None
    resource: dict[str, Any] = {"resourceType": "Medication", "code": concept}
    form = cwe(item.segment.first(6), asm) if item.segment.name == "RXD" else None
    if form:
        resource["form"] = form
    lot = item.segment.value(18) if item.segment.name == "RXD" else ""
    if lot:
        resource["batch"] = {"lotNumber": lot}
        return asm.add(resource, asm.urn(f"Medication|{item.segment.location}"))
    if code is not None and code.standard:
        token = f"{code.coding.system}|{code.coding.code}"
        return asm.add(
            resource, asm.shared_urn(f"Medication|{token}"), if_none_exist=f"code={token}"
        )
    return asm.add(resource, asm.urn(f"Medication|{item.segment.location}"))


def dispense(message: Er7Message, asm: Assembly) -> Outcome:
    """RDS^O13: one MedicationDispense (+ Medication) per RXD."""
    patient = read_patient(message, asm, update=False)
    groups = order_groups(message, frozenset({"RXE", "RXD"}))
    items = [(g, i) for g in groups for i in g.items if i.segment.name == "RXD"]
    if not items:
        missing_segment(asm, message, "RXD")
    if patient is None:
        return None, ()
    for group, item in items:
        _dispense(group, item, patient, asm)
    return patient, ()


def _dispense(group: OrderGroup, item: Item, patient: PatientRef, asm: Assembly) -> None:
    rxd = item.segment
    medication = _medication(item, asm, 2, "MedicationDispense.medicationReference")
    order = group.filler() or group.placer() or rxd.value(7)
    handed = ts(rxd.first(3), asm, "MedicationDispense.whenHandedOver")
    if order:
        identifier = asm.business_id("dispense", f"{order}/{rxd.value(1) or '1'}")
    else:
        parts = (local_key(patient), rxd.value(2), handed.value if handed else "")
        identifier = asm.natural_id("dispense", *parts)
    resource: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "identifier": [identifier],
        "status": "completed",
    }
    if medication:
        resource["medicationReference"] = {"reference": medication}
    resource["subject"] = {"reference": patient.reference}
    pharmacist = xcn(rxd.first(10), asm, "MedicationDispense.performer")
    actor = asm.practitioner_role(pharmacist, PHARMACIST) if pharmacist else asm.organization()
    if pharmacist:
        asm.author = asm.author or actor
    resource["performer"] = [{"actor": {"reference": actor}}]
    if group.placer():
        resource["authorizingPrescription"] = [
            {"type": "MedicationRequest", "identifier": asm.business_id("order", group.placer())}
        ]
    quantity = dose_quantity(
        rxd.value(4),
        (rxd.value(5, 1), rxd.value(5, 2)),
        asm,
        rxd.at(4),
        "MedicationDispense.quantity",
    )
    if quantity:
        resource["quantity"] = quantity
    if handed:
        resource["whenHandedOver"] = handed.value
    notes = [r.text() for r in rxd.reps(9)]
    if notes:
        resource["note"] = [{"text": n} for n in notes if n]
    dosage = _dosage(group.first("RXE") or item, group, asm)
    if dosage:
        resource["dosageInstruction"] = [dosage]
    asm.add(
        resource,
        asm.urn(f"MedicationDispense|{rxd.location}"),
        if_none_exist=asm.condition(identifier),
        location=rxd.location,
    )


def _dosage(item: Item, group: OrderGroup, asm: Assembly) -> dict[str, Any] | None:
    seg = item.segment
    out: dict[str, Any] = {}
    if seg.name == "RXE":
        instructions = "; ".join(r.c(2) or r.c(1) for r in seg.reps(7) if r.c(2) or r.c(1))
        if instructions:
            out["text"] = instructions
        dose = dose_quantity(
            seg.value(3), (seg.value(5, 1), seg.value(5, 2)), asm, seg.at(3), "Dosage.doseAndRate"
        )
        if dose:
            out["doseAndRate"] = [{"doseQuantity": dose}]
    timing = timing_text(item, group)
    if timing:
        out["timing"] = {"code": {"text": timing}}
    route = route_concept(item, asm)
    if route:
        out["route"] = route
    return out or None


def order(message: Er7Message, asm: Assembly) -> Outcome:
    """RDE^O11: one MedicationRequest per RXE."""
    patient = read_patient(message, asm, update=False)
    groups = order_groups(message, frozenset({"RXE"}))
    if not any(g.items for g in groups):
        missing_segment(asm, message, "RXE")
    if patient is None:
        return None, ()
    for group in groups:
        for n, item in enumerate(group.items):
            _request(group, item, n, patient, asm)
    return patient, ()


def _request(group: OrderGroup, item: Item, n: int, patient: PatientRef, asm: Assembly) -> None:
    rxe = item.segment
    concept, _ = medication_concept(rxe.first(2), asm, "MedicationRequest.medication")
    number = group.placer() or group.filler()
    authored = ts(group.orc.first(9), asm, "MedicationRequest.authoredOn") if group.orc else None
    if number:
        identifier = asm.business_id("order", number + (f"/{n + 1}" if n else ""))
    else:
        parts = (local_key(patient), rxe.value(2), authored.value if authored else "", str(n))
        identifier = asm.natural_id("order", *parts)
    control = group.orc.value(1).upper() if group.orc else ""
    status = _REQUEST_STATUS.get(control)
    if group.orc and group.orc.value(5).upper() == "CM":
        status = "completed"
    if status is None:
        status = "active"
        asm.assume(
            f"order control {control or '(none)'!r} read as an active order",
            group.orc.at(1) if group.orc else rxe.location,
        )
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "identifier": [identifier],
        "status": status,
        "intent": "order",
    }
    if concept:
        resource["medicationCodeableConcept"] = concept
    else:
        asm.report(
            error(
                "no medication code (RXE-2)",
                rxe.at(2),
                code="required",
                expression="MedicationRequest.medication",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_REQUIRED_MISSING,
            )
        )
    resource["subject"] = {"reference": patient.reference}
    if authored:
        resource["authoredOn"] = authored.value
    prescriber = xcn(group.orc.first(12), asm, "MedicationRequest.requester") if group.orc else None
    if prescriber:
        role = asm.practitioner_role(prescriber, PHYSICIAN)
        resource["requester"] = {"reference": role}
        asm.author = asm.author or role
    dosage = _dosage(item, group, asm)
    if dosage:
        resource["dosageInstruction"] = [dosage]
    amount = dose_quantity(
        rxe.value(10),
        (rxe.value(11, 1), rxe.value(11, 2)),
        asm,
        rxe.at(10),
        "MedicationRequest.dispenseRequest.quantity",
    )
    dispense_request: dict[str, Any] = {}
    if amount:
        dispense_request["quantity"] = amount
    refills = rxe.value(12)
    if refills.isdigit() and int(refills) < 2**31:
        dispense_request["numberOfRepeatsAllowed"] = int(refills)
    if dispense_request:
        resource["dispenseRequest"] = dispense_request
    asm.add(
        resource,
        asm.urn(f"MedicationRequest|{rxe.location}"),
        if_none_exist=asm.condition(identifier),
        location=rxe.location,
        replaces=control == "XO",  # a changed order: the prescriber's new version of it
    )
