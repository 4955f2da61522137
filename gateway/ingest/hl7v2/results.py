"""ORU^R01 → Observation per OBX, DiagnosticReport per OBR that groups results.

OBX (HL7 v2-to-FHIR IG, OBX → Observation): code OBX-3 (vital signs resolved to LOINC,
see :mod:`gateway.ingest.observations`), value by OBX-2 (NM/SN → Quantity, ST/TX/FT →
string, CWE/CE → CodeableConcept, DT/TS → dateTime; ED/RP are not mapped: warning),
units OBX-6, reference range OBX-7 (text), interpretation OBX-8, status OBX-11, time
OBX-14 (else OBR-7, else MSH-7 with an assumption), responsible observer OBX-16.

OBR → DiagnosticReport: code OBR-4, status OBR-25, effective OBR-7, issued OBR-22,
identifier OBR-3 (filler) or OBR-2 (placer) in the source's ``report`` system, and its
Observations as ``result``. Lab Observations are identified by the report number +
OBX-3 code + OBX-4 sub-id; vital signs by their natural key.
"""

from __future__ import annotations

from typing import Any

from gateway.ingest.assembly import Assembly
from gateway.ingest.hl7v2.datatypes import cwe, ts, xcn
from gateway.ingest.hl7v2.er7 import Er7Message, Segment
from gateway.ingest.hl7v2.patient import read_patient
from gateway.ingest.issues import (
    GW_REQUIRED,
    HL7_REQUIRED_MISSING,
    HL7_SEGMENT_SEQUENCE,
    error,
    warning,
)
from gateway.ingest.observations import (
    absent,
    is_measurement,
    measurement_value,
    observation,
    observed_code,
)
from gateway.ingest.patients import local_key
from gateway.ingest.result import MergeInstruction, PatientRef
from gateway.normalise.times import FhirTime

_OBS_STATUS = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "I": "registered",
    "X": "cancelled",
    "D": "entered-in-error",
    "W": "entered-in-error",
    "U": "final",
}
_REPORT_STATUS = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "partial",
    "S": "partial",
    "I": "registered",
    "X": "cancelled",
    "A": "partial",
}
_INTERPRETATIONS = frozenset(
    {"H", "L", "N", "A", "HH", "LL", "AA", "<", ">", "I", "R", "S", "U", "D", "B", "W", "HU", "LU"}
)
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def observations(
    message: Er7Message, asm: Assembly
) -> tuple[PatientRef | None, tuple[MergeInstruction, ...]]:
    patient = read_patient(message, asm, update=False)
    groups: list[tuple[Segment | None, list[Segment]]] = []
    for seg in message.segments:
        if seg.name == "OBR":
            groups.append((seg, []))
        elif seg.name == "OBX":
            if not groups:
                groups.append((None, []))
            groups[-1][1].append(seg)
    if not any(obxs for _, obxs in groups):
        asm.report(
            error(
                "an ORU^R01 needs OBX segments",
                message.msh.location,
                code="required",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_SEGMENT_SEQUENCE,
            )
        )
    if patient is None:
        return None, ()
    msh_time = ts(message.msh.first(7), asm)
    for obr, obxs in groups:
        results = [r for r in (_observation(obr, obx, patient, asm, msh_time) for obx in obxs) if r]
        if obr is not None and results:
            _report(obr, results, patient, asm)
    return patient, ()


def _time(
    obr: Segment | None, obx: Segment, asm: Assembly, fallback: FhirTime | None
) -> str | None:
    for source in (obx.first(14), obr.first(7) if obr else None):
        if source is not None and not source.empty:
            found = ts(source, asm, "Observation.effective")
            if found is not None:
                return found.value
    if fallback is not None:
        asm.assume("observation time not given: message time (MSH-7) used", obx.at(14))
        return fallback.value
    return None


def _value(obx: Segment, code: Any, asm: Assembly) -> tuple[dict[str, Any] | None, Any]:
    kind = obx.value(2).upper()
    reps = obx.reps(5)
    location = obx.at(5)
    if not reps:
        status = obx.value(11).upper()
        return {"dataAbsentReason": absent("not-performed" if status == "X" else "unknown")}, code
    first = reps[0]
    if kind in ("NM", "SN") or (code.spec is not None and kind in ("", "ST")):
        text = first.text()
        if kind == "SN":
            comparator, number = first.c(1), first.c(2)
            text = number if not first.c(3) else f"{number}{first.c(3)}{first.c(4)}"
            if comparator:
                asm.report(warning(f"comparator {comparator!r} not kept", location))
        unit = obx.first(6)
        label = unit.c(1) or unit.c(2)
        return measurement_value(asm, code, text, label, location)
    if kind in ("CWE", "CE", "CNE", "CF"):
        concept = cwe(first, asm)
        return ({"valueCodeableConcept": concept} if concept else None), code
    if kind in ("DT", "TS", "DTM"):
        moment = ts(first, asm, "Observation.value")
        return ({"valueDateTime": moment.value} if moment else None), code
    if kind in ("ST", "TX", "FT", ""):
        return {"valueString": "\n".join(r.text() for r in reps)}, code
    asm.report(warning(f"OBX-5 of type {kind} is not mapped: value not kept", location))
    return {"dataAbsentReason": absent("unsupported")}, code


def _observation(
    obr: Segment | None, obx: Segment, patient: PatientRef, asm: Assembly, msh_time: FhirTime | None
) -> str | None:
    ident = obx.first(3)
    code = observed_code(asm, ident.c(1), ident.c(2), ident.c(3))
    if code is None:
        asm.report(
            error(
                "OBX-3 (observation identifier) is required",
                obx.at(3),
                code="required",
                expression="Observation.code",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_REQUIRED_MISSING,
            )
        )
        return None
    value, code = _value(obx, code, asm)
    if value is None:
        return None
    effective = _time(obr, obx, asm, msh_time)
    status_code = obx.value(11).upper()
    status = _OBS_STATUS.get(status_code, "final")
    if status_code not in _OBS_STATUS:
        asm.assume(f"result status {status_code or '(none)'!r} read as final", obx.at(11))
    main = code.concept["coding"][0]["code"] if code.concept.get("coding") else ident.c(2)
    report_number = (obr.value(3) or obr.value(2)) if obr else ""
    if is_measurement(code) or not report_number:
        identifier = asm.natural_id(
            "observation", local_key(patient), main, effective or "", obx.value(4)
        )
    else:
        identifier = asm.business_id(
            "observation", f"{report_number}/{ident.c(1)}/{obx.value(4) or obx.value(1)}"
        )
    extra: dict[str, Any] = {}
    interpretation = obx.value(8).upper()
    if interpretation in _INTERPRETATIONS:
        extra["interpretation"] = [
            {"coding": [{"system": INTERPRETATION_SYSTEM, "code": interpretation}]}
        ]
    if obx.value(7):
        extra["referenceRange"] = [{"text": obx.first(7).text()}]
    observer = xcn(obx.first(16), asm, "Observation.performer")
    performer = asm.practitioner_role(observer) if observer else None
    return observation(
        asm,
        code=code,
        identifier=identifier,
        status=status,
        subject=patient.reference,
        effective=effective,
        value=value,
        performer=performer,
        extra=extra,
        key=str(obx.location),
        location=obx.location,
    )


def _report(obr: Segment, results: list[str], patient: PatientRef, asm: Assembly) -> None:
    concept = cwe(obr.first(4), asm) or {"text": "Results"}
    number = obr.value(3) or obr.value(2)
    effective = ts(obr.first(7), asm, "DiagnosticReport.effective")
    issued = ts(obr.first(22), asm, "DiagnosticReport.issued")
    if number:
        identifier = asm.business_id("report", number)
    else:
        identifier = asm.natural_id(
            "report", local_key(patient), obr.value(4), effective.value if effective else ""
        )
    status_code = obr.value(25).upper()
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "identifier": [identifier],
        "status": _REPORT_STATUS.get(status_code, "final"),
        "code": concept,
        "subject": {"reference": patient.reference},
    }
    if effective:
        resource["effectiveDateTime"] = effective.value
    instant = asm.instant(issued, obr.at(22), "DiagnosticReport.issued") if issued else None
    if instant:
        resource["issued"] = instant
    resource["result"] = [{"reference": r} for r in results]
    asm.add(
        resource,
        asm.urn(f"DiagnosticReport|{obr.location}"),
        if_none_exist=asm.condition(identifier),
        location=obr.location,
    )
