"""Our gateway profiles: a valid example of each, and an invalid one failing the profile's rule.

Valid examples live in ``fixtures/validation/gateway-examples`` (built from the FR Core
examples where one exists, identifiers given correct check keys). Each invalid example is
the valid one with one change, and must fail with exactly the expected error.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.validation import Validator

EXAMPLES = Path(__file__).resolve().parents[3] / "fixtures" / "validation" / "gateway-examples"
GW = "https://dmp-gateway.fr/fhir/StructureDefinition/"
TRE_G15 = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
TRE_A07 = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument"
)

Mutation = Callable[[dict[str, Any]], None]


def _drop(*path: str | int) -> Mutation:
    def mutate(r: dict[str, Any]) -> None:
        node: Any = r
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return mutate


def _set(value: Any, *path: str | int) -> Mutation:
    def mutate(r: dict[str, Any]) -> None:
        node: Any = r
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mutate


def _not_vali(r: dict[str, Any]) -> None:
    reliability = r["extension"][1]["extension"][0]["valueCoding"]
    reliability["code"] = "PROV"


def _no_profession(r: dict[str, Any]) -> None:
    r["code"] = [c for c in r["code"] if c["coding"][0]["system"] != TRE_G15]


def _twice_the_same_label(r: dict[str, Any]) -> None:
    r["securityLabel"].append({"coding": [{"system": TRE_A07, "code": "INVISIBLE_PATIENT"}]})


#: profile → (what breaks it, FHIR issue code, expression, rule named in the message)
INVALID: dict[str, tuple[Mutation, str, str, str]] = {
    "gw-patient-ins": (_not_vali, "invariant", "Patient", "gw-pat-2"),
    "gw-practitioner": (
        _set([{"system": "urn:oid:1.2.3", "value": "1"}], "identifier"),
        "invariant",
        "Practitioner",
        "gw-prac-1",
    ),
    "gw-practitioner-role": (_no_profession, "required", "PractitionerRole.code", "profession"),
    "gw-organization": (
        _set([{"system": "https://sirene.fr", "value": "264403106"}], "identifier"),
        "invariant",
        "Organization",
        "gw-org-1",
    ),
    "gw-medication-dispense": (
        _set(
            {"coding": [{"system": "http://example.org/meds", "code": "X"}]},
            "medicationCodeableConcept",
        ),
        "invariant",
        "MedicationDispense.medication.ofType(CodeableConcept)",
        "gw-md-1",
    ),
    "gw-observation-vital-sign": (
        _drop("performer"),
        "required",
        "Observation.performer",
        "Observation.performer",
    ),
    "gw-observation-body-temperature": (
        _set({"start": "2026-03-02T08:00:00+01:00"}, "effectivePeriod"),
        "structure",
        "Observation.effective",
        "Period is not allowed",
    ),
    "gw-observation-heart-rate": (
        _drop("effectiveDateTime"),
        "required",
        "Observation.effective",
        "Observation.effective",
    ),
    "gw-observation-blood-pressure": (
        _set({"reference": "Device/1"}, "performer", 0),
        "structure",
        "Observation.performer[0]",
        "Device",
    ),
    "gw-observation-respiratory-rate": (
        _set(
            {"value": 16, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/h"},
            "valueQuantity",
        ),
        "value",
        "Observation.value.ofType(Quantity).code",
        "/min",
    ),
    "gw-observation-oxygen-saturation": (
        _drop("performer"),
        "required",
        "Observation.performer",
        "Observation.performer",
    ),
    "gw-observation-body-weight": (
        _drop("subject"),
        "required",
        "Observation.subject",
        "Observation.subject",
    ),
    "gw-condition": (_drop("recorder"), "required", "Condition.recorder", "Condition.recorder"),
    "gw-allergy-intolerance": (
        _drop("recordedDate"),
        "required",
        "AllergyIntolerance.recordedDate",
        "recordedDate",
    ),
    "gw-medication-request": (
        _set({"reference": "Patient/1"}, "requester"),
        "structure",
        "MedicationRequest.requester",
        "Patient",
    ),
    "gw-document-reference": (_twice_the_same_label, "invariant", "DocumentReference", "gw-doc-2"),
    "gw-consent": (
        _set([{"type": "deny"}], "provision", "provision"),
        "invariant",
        "Consent.provision",
        "gw-consent-1",
    ),
}


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def test_every_gateway_profile_has_examples(validator: Validator) -> None:
    shipped = {
        str(sd["url"])[len(GW) :]
        for sd in validator.registry.index.of_type("StructureDefinition")
        if str(sd["url"]).startswith(GW)
    }
    assert shipped == set(INVALID)
    assert {p.stem for p in EXAMPLES.glob("*.json")} == shipped


@pytest.mark.parametrize("name", sorted(INVALID))
def test_valid_example(validator: Validator, name: str) -> None:
    resource = _example(name)
    assert resource["meta"]["profile"] == [GW + name]
    errors = [i for i in validator.validate(resource) if i.is_error]
    assert not errors, [(i.expression, i.diagnostics) for i in errors]


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_example(validator: Validator, name: str) -> None:
    mutate, code, expression, rule = INVALID[name]
    resource = copy.deepcopy(_example(name))
    mutate(resource)
    errors = [i for i in validator.validate(resource) if i.is_error]
    assert len(errors) == 1, [(i.code, i.expression, i.diagnostics) for i in errors]
    assert (errors[0].code, errors[0].expression) == (code, (expression,))
    assert rule in errors[0].diagnostics


def test_profile_applies_through_defaults_too(profiles_dir: Path) -> None:
    resource = _example("gw-condition")
    del resource["meta"]
    del resource["recorder"]
    plain = Validator.load(profiles_dir)
    assert not [i for i in plain.validate(resource) if i.is_error]
    strict = Validator(plain.registry, default_profiles={"Condition": [GW + "gw-condition"]})
    errors = [i for i in strict.validate(resource) if i.is_error]
    assert [(i.code, i.expression) for i in errors] == [("required", ("Condition.recorder",))]


def test_unknown_default_profile_is_refused_at_load(validator: Validator) -> None:
    with pytest.raises(ValueError, match="not held"):
        Validator(validator.registry, default_profiles={"Patient": [GW + "gw-nothing"]})
    with pytest.raises(ValueError, match="constrains Patient"):
        Validator(validator.registry, default_profiles={"Condition": [GW + "gw-patient-ins"]})
