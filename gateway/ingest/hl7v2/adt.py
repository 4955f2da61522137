"""ADT: patient administration (HL7 v2.5 chapter 3) → Patient, Encounter, merges.

- A01 (admit) and A04 (register): Patient and an Encounter from PV1
  (status ``in-progress`` for A01, ``arrived`` for A04);
- A08 (update), A28 (add person), A31 (update person): Patient;
- A40 (merge patient, identifier list): for each PID/MRG pair, the surviving Patient
  (PID) and a :class:`MergeInstruction` naming the retired one (MRG-1); nothing is
  overwritten here: the pipeline applies the links (see MergeInstruction).

Encounter (https://hl7.org/fhir/R4/encounter.html): class from PV1-2 (v3 ActCode),
identifier from PV1-19 (visit number, in the source's ``encounter`` system), period from
PV1-44/45 (or EVN-6), the attending doctor PV1-7 as participant, the source's
Organization as service provider.
"""

from __future__ import annotations

from typing import Any

from gateway.ingest.assembly import PHYSICIAN, Assembly
from gateway.ingest.hl7v2.datatypes import ts, xcn
from gateway.ingest.hl7v2.er7 import Er7Message, Segment
from gateway.ingest.hl7v2.patient import patient_from_pid, read_patient
from gateway.ingest.issues import GW_REQUIRED, HL7_REQUIRED_MISSING, HL7_SEGMENT_SEQUENCE, error
from gateway.ingest.patients import ordered, patient_key
from gateway.ingest.result import MergeInstruction, PatientKey, PatientRef
from gateway.normalise.errors import NormalisationError
from gateway.normalise.identifiers import (
    NormalisedIdentifier,
    ins,
    ins_system_for_oid,
    local_patient,
)
from gateway.normalise.text import clean

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_CLASSES = {
    "E": ("EMER", "emergency"),
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "P": ("PRENC", "pre-admission"),
    "R": ("AMB", "ambulatory"),
    "B": ("AMB", "ambulatory"),
    "C": ("AMB", "ambulatory"),
    "H": ("HH", "home health"),
}


def _encounter(message: Er7Message, asm: Assembly, patient: PatientRef, status: str) -> None:
    pv1 = message.find("PV1")
    if pv1 is None:
        asm.report(
            error(
                "an admission needs a PV1 segment",
                message.msh.location,
                code="required",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_SEGMENT_SEQUENCE,
            )
        )
        return
    code = pv1.value(2).upper()
    klass = _CLASSES.get(code)
    if klass is None:
        klass = ("AMB", "ambulatory")
        asm.assume(f"patient class {code or 'absent'!r} read as ambulatory", pv1.at(2))
    resource: dict[str, Any] = {"resourceType": "Encounter"}
    visit = pv1.value(19)
    condition = None
    if visit:
        identifier = asm.business_id("encounter", visit)
        resource["identifier"] = [identifier]
        condition = asm.condition(identifier)
    resource["status"] = status
    resource["class"] = {"system": ACT_CODE, "code": klass[0], "display": klass[1]}
    resource["subject"] = {"reference": patient.reference}
    attending = xcn(pv1.first(7), asm, "Encounter.participant")
    if attending is not None:
        role = asm.practitioner_role(attending, PHYSICIAN)
        resource["participant"] = [
            {
                "type": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "ATND",
                            }
                        ]
                    }
                ],
                "individual": {"reference": role},
            }
        ]
    start = ts(pv1.first(44), asm, "Encounter.period.start")
    evn = message.find("EVN")
    if start is None and evn is not None:
        start = ts(evn.first(6), asm, "Encounter.period.start")
    end = ts(pv1.first(45), asm, "Encounter.period.end")
    period = {k: v.value for k, v in (("start", start), ("end", end)) if v is not None}
    if period:
        resource["period"] = period
    resource["serviceProvider"] = {"reference": asm.organization()}
    asm.add(resource, asm.urn("Encounter"), if_none_exist=condition)


def admit(
    message: Er7Message, asm: Assembly
) -> tuple[PatientRef | None, tuple[MergeInstruction, ...]]:
    """A01/A04: Patient and Encounter."""
    patient = read_patient(message, asm, update=True)
    if patient is not None:
        status = "in-progress" if message.msh.value(9, 2).upper() == "A01" else "arrived"
        _encounter(message, asm, patient, status)
    return patient, ()


def update(
    message: Er7Message, asm: Assembly
) -> tuple[PatientRef | None, tuple[MergeInstruction, ...]]:
    """A08/A28/A31: Patient (the identity stage applies the demographics)."""
    return read_patient(message, asm, update=True), ()


def _retired_keys(mrg: Segment, asm: Assembly) -> tuple[PatientKey, ...]:
    keys: list[NormalisedIdentifier] = []
    for rep in mrg.reps(1):
        system = ins_system_for_oid(rep.c(4, 2)) if rep.c(4, 2) else None
        if not clean(rep.c(1)):
            continue
        try:
            keys.append(ins(rep.c(1), system) if system else local_patient(rep.c(1), asm.source))
        except NormalisationError as exc:
            asm.refuse(exc, rep.at(1), "Patient.link.other")
    return tuple(patient_key(k) for k in ordered(keys))


def merge(
    message: Er7Message, asm: Assembly
) -> tuple[PatientRef | None, tuple[MergeInstruction, ...]]:
    """A40: each PID (surviving) is followed by its MRG (retired)."""
    merges: list[MergeInstruction] = []
    first: PatientRef | None = None
    pending: Segment | None = None
    for segment in message.segments:
        if segment.name == "PID":
            pending = segment
        elif segment.name == "MRG" and pending is not None:
            surviving = patient_from_pid(pending, asm, update=True)
            retired = _retired_keys(segment, asm)
            if surviving is not None and retired:
                merges.append(MergeInstruction(surviving.keys, retired, str(segment.location)))
                first = first or surviving
            elif surviving is not None:
                asm.report(
                    error(
                        "MRG-1 holds no usable prior patient identifier",
                        segment.at(1),
                        code="required",
                        gateway_code=GW_REQUIRED,
                        hl7_error=HL7_REQUIRED_MISSING,
                    )
                )
            pending = None
    if not merges and not asm.has_errors:
        asm.report(
            error(
                "an A40 needs PID and MRG segments",
                message.msh.location,
                code="required",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_SEGMENT_SEQUENCE,
            )
        )
    return first, tuple(merges)
