"""Observations, shared by HL7 ORU and the CSV ``vitals`` export.

- **Code.** A code or label that the vital-sign ConceptMap knows becomes its LOINC
  coding (plus 59408-5 for SpO2), the FR Core profile goes in ``meta.profile``, the
  category is ``vital-signs`` (or ``laboratory`` for glucose, ``survey`` for pain),
  and the source's own code is kept as a second coding. Other codes are kept as sent.
- **Value.** Numbers are read with French decimals; the unit goes to UCUM and, for a
  vital sign, is converted to the unit its profile binds (original kept in an
  extension, see :mod:`gateway.normalise.units`), then refused if no person can have
  it (:func:`gateway.normalise.vitals.check_limits`: −5 kg, 98 °C, an SpO2 of 120 %).
  Glucose switches to 15074-8 for ``mmol/L``. A blood pressure given as ``120/80``
  becomes the FR Core BP panel with systolic and diastolic components; both values
  below 30 without a unit are read as centimetres of mercury (``13/8``, a common
  French notation), an assumption.
- **Identifier.** Vital signs and nursing measurements always get a natural key
  (patient, LOINC code, effective time) so that the same measurement sent by HL7 and
  by CSV is stored once; other results use the identifier the caller gives. The key
  leaves the value and status out on purpose: another value under the same key is a
  correction or a conflict, which the intake decides (:mod:`gateway.intake.facts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.ingest.assembly import Assembly
from gateway.ingest.issues import Location
from gateway.normalise.codes import coding_system
from gateway.normalise.errors import NormalisationError
from gateway.normalise.numbers import json_number, parse_decimal
from gateway.normalise.units import normalise_quantity, ucum_code
from gateway.normalise.vitals import (
    BP_PANEL,
    DIASTOLIC,
    SYSTOLIC,
    VITAL_SIGNS_BY_LOINC,
    VitalSign,
    check_limits,
    for_unit,
    vital_sign,
)

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_BP = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*[/\\-]\s*(\d+(?:[.,]\d+)?)\s*$")


@dataclass(frozen=True, slots=True)
class ObservedCode:
    """The code of an observation as the gateway will write it."""

    concept: dict[str, Any]
    spec: VitalSign | None


def observed_code(
    asm: Assembly, code: str, display: str = "", system_name: str = ""
) -> ObservedCode | None:
    """Resolve a source code (or label) to LOINC when it is a known vital sign."""
    if not code and not display:
        return None
    system = coding_system(system_name, asm.terminology) if system_name else None
    # Only the code is resolved, never the display: a lab's "GLUCOSE" in serum is not
    # the nurse's capillary "Glycémie".
    spec = vital_sign(code, asm.terminology, system=system) if code else None
    source_coding: dict[str, str] | None = None
    if code:
        source_coding = {"system": system or asm.code_system(system_name), "code": code}
        if display:
            source_coding["display"] = display
    if spec is not None:
        codings = [c.to_fhir() for c in spec.codings]
        if source_coding and source_coding["system"] != "http://loinc.org":
            codings.append(source_coding)
        return ObservedCode({"coding": codings, "text": display or spec.display}, spec)
    concept: dict[str, Any] = {}
    if source_coding:
        concept["coding"] = [source_coding]
    if display:
        concept["text"] = display
    return ObservedCode(concept, None)


def quantity_value(
    asm: Assembly,
    spec: VitalSign | None,
    value_text: str,
    unit_label: str,
    location: Location | None,
    *,
    default_unit: str | None = None,
) -> tuple[dict[str, Any] | None, VitalSign | None]:
    """A valueQuantity (converted for vital signs) and the spec to use for its unit."""
    try:
        number = parse_decimal(value_text)
    except NormalisationError as exc:
        asm.refuse(exc, location, "Observation.value")
        return None, spec
    if spec is not None and spec.unit is not None:
        unit_code = ucum_code(unit_label, asm.terminology) if unit_label else None
        spec = for_unit(spec, unit_code)
        target = spec.unit
    else:
        target = None
    try:
        quantity, assumption = normalise_quantity(
            number,
            unit_label,
            asm.terminology,
            target=target,
            default_unit=default_unit or (spec.unit if spec and spec.unit == "{score}" else None),
        )
    except NormalisationError as exc:
        if spec is None and exc.kind == "unit":
            # A lab result in an unknown unit: keep the text, no UCUM code.
            out: dict[str, Any] = {"value": json_number(number)}
            if unit_label:
                out["unit"] = unit_label
            asm.assume(f"unit {unit_label!r} not in UCUM: kept as text", location)
            return out, spec
        asm.refuse(exc, location, "Observation.value.unit")
        return None, spec
    if spec is not None and quantity.code == spec.unit:
        try:
            check_limits(spec, quantity.value)
        except NormalisationError as exc:
            asm.refuse(exc, location, "Observation.value")
            return None, spec
    asm.assume(assumption, location)
    return quantity.to_fhir(), spec


def blood_pressure(
    asm: Assembly, value_text: str, unit_label: str, location: Location | None
) -> list[dict[str, Any]] | None:
    """``120/80`` as systolic and diastolic components in mm[Hg]."""
    match = _BP.match(value_text)
    if not match:
        asm.refuse(
            NormalisationError(f"{value_text!r} is not a blood pressure (systolic/diastolic)"),
            location,
            "Observation.component",
        )
        return None
    systolic, diastolic = (parse_decimal(g) for g in match.groups())
    unit = unit_label
    if not unit and systolic < 30 and diastolic < 30:
        unit = "cmHg"
        asm.assume("blood pressure below 30 without a unit read as cmHg", location)
    components = []
    for loinc, number in ((SYSTOLIC, systolic), (DIASTOLIC, diastolic)):
        spec = VITAL_SIGNS_BY_LOINC[loinc]
        try:
            quantity, assumption = normalise_quantity(
                number, unit, asm.terminology, target="mm[Hg]", default_unit="mm[Hg]"
            )
            check_limits(spec, quantity.value)
        except NormalisationError as exc:
            asm.refuse(exc, location, "Observation.component.value")
            return None
        asm.assume(assumption, location)
        components.append(
            {"code": {"coding": [spec.coding.to_fhir()]}, "valueQuantity": quantity.to_fhir()}
        )
    return components


def absent(reason: str = "unknown") -> dict[str, Any]:
    return {"coding": [{"system": ABSENT_SYSTEM, "code": reason}]}


def observation(
    asm: Assembly,
    *,
    code: ObservedCode,
    identifier: dict[str, str],
    status: str,
    subject: str,
    effective: str | None,
    value: dict[str, Any],
    performer: str | None = None,
    issued: str | None = None,
    extra: dict[str, Any] | None = None,
    key: str,
    location: Location | None = None,
) -> str:
    """Add one Observation; ``value`` holds its value[x], component or dataAbsentReason."""
    spec = code.spec
    resource: dict[str, Any] = {"resourceType": "Observation"}
    if spec is not None and spec.profile:
        resource["meta"] = {"profile": [spec.profile]}
    resource["identifier"] = [identifier]
    resource["status"] = status
    category = spec.category if spec is not None else None
    if category:
        resource["category"] = [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}]
    resource["code"] = code.concept
    resource["subject"] = {"reference": subject}
    if effective:
        resource["effectiveDateTime"] = effective
    if issued:
        resource["issued"] = issued
    if performer:
        resource["performer"] = [{"reference": performer}]
    resource.update(value)
    if extra:
        resource.update(extra)
    return asm.add(
        resource,
        asm.urn(f"Observation|{key}"),
        if_none_exist=asm.condition(identifier),
        location=location,
    )


def measurement_value(
    asm: Assembly,
    code: ObservedCode,
    value_text: str,
    unit_label: str,
    location: Location | None,
    *,
    default_unit: str | None = None,
) -> tuple[dict[str, Any] | None, ObservedCode]:
    """The value[x]/component of a numeric measurement (BP panel aware)."""
    spec = code.spec
    if spec is not None and spec.loinc == BP_PANEL:
        components = blood_pressure(asm, value_text, unit_label, location)
        return ({"component": components} if components else None), code
    quantity, used = quantity_value(
        asm, spec, value_text, unit_label, location, default_unit=default_unit
    )
    if quantity is None:
        return None, code
    if used is not None and spec is not None and used.loinc != spec.loinc:
        # The unit changed the LOINC property (glucose in mmol/L).
        codings = [c.to_fhir() for c in used.codings] + code.concept["coding"][len(spec.codings) :]
        code = ObservedCode({**code.concept, "coding": codings}, used)
    return {"valueQuantity": quantity}, code


def is_measurement(code: ObservedCode) -> bool:
    """True for vital signs and nursing measurements (natural-key identifiers)."""
    return code.spec is not None
