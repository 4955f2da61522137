"""One negative test per rule kind, each asserting the exact issue code and expression."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import Issue
from gateway.validation import BundleContext, ProfileRegistry, Validator
from gateway.validation.package import ConformanceIndex

GW = "https://dmp-gateway.fr/fhir/StructureDefinition/"
TEST_CLOSED = "https://dmp-gateway.fr/fhir/test/StructureDefinition/test-closed-category"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def found(issues: list[Issue], code: str, expression: str) -> list[Issue]:
    return [i for i in issues if i.code == code and i.expression == (expression,)]


def problems(issues: list[Issue]) -> list[Issue]:
    """Errors and warnings: information (such as dom-6, best practice) aside."""
    return [i for i in issues if i.severity in ("fatal", "error", "warning")]


def only_error(issues: list[Issue]) -> Issue:
    errs = [i for i in issues if i.is_error]
    assert len(errs) == 1, [(i.code, i.expression, i.diagnostics) for i in errs]
    return errs[0]


@pytest.fixture(scope="module")
def test_validator(profiles_dir: Path, fixtures_dir: Path) -> Validator:
    index = ConformanceIndex.load(profiles_dir)
    for path in (fixtures_dir / "test-profiles").glob("*.json"):
        index.add(json.loads(path.read_text(encoding="utf-8")), source=path.name)
    return Validator(ProfileRegistry(index))


@pytest.fixture(scope="module")
def gw_examples(fixtures_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in (fixtures_dir / "gateway-examples").glob("*.json")
    }


def observation(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
        **extra,
    }


# -- the eight rule kinds the issue names ------------------------------------------------------
def test_missing_required_element(validator: Validator) -> None:
    resource = observation()
    del resource["status"]
    issue = only_error(validator.validate(resource))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "required",
        ("Observation.status",),
        "GW-4102",
    )


def test_wrong_json_type_for_a_primitive(validator: Validator) -> None:
    issue = only_error(validator.validate({"resourceType": "Patient", "active": "true"}))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "structure",
        ("Patient.active",),
        "GW-4103",
    )
    assert "JSON boolean" in issue.diagnostics


def test_wrong_type_for_a_complex_element(validator: Validator) -> None:
    issue = only_error(validator.validate(observation(code="8310-5")))
    assert (issue.code, issue.expression) == ("structure", ("Observation.code",))


def test_code_outside_a_required_value_set(validator: Validator) -> None:
    issue = only_error(validator.validate({"resourceType": "Patient", "gender": "xyz"}))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "code-invalid",
        ("Patient.gender",),
        "GW-4105",
    )


def test_bad_ins_key(validator: Validator) -> None:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "123456789012213"}],
    }
    issue = only_error(validator.validate(patient))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "value",
        ("Patient.identifier[0].value",),
        "GW-4110",
    )
    assert issue.diagnostics.startswith("invalid INS-NIR")
    patient["identifier"][0]["value"] = "123456789012212"
    assert not problems(validator.validate(patient))


def test_corsican_nir_key_is_accepted(validator: Validator) -> None:
    from gateway.fhir.identifiers import nir_key

    first13 = "185042A123456"
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": f"{first13}{nir_key(first13):02d}"}
        ],
    }
    assert not problems(validator.validate(patient))


def test_bad_rpps_key(validator: Validator) -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "identifier": [{"system": "https://rpps.esante.gouv.fr", "value": "10101201234"}],
    }
    issue = only_error(validator.validate(practitioner))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "value",
        ("Practitioner.identifier[0].value",),
        "GW-4110",
    )
    assert issue.diagnostics.startswith("invalid RPPS")


def test_unknown_extension_is_a_warning_and_an_error_when_strict(
    validator: Validator, profiles_dir: Path
) -> None:
    patient = {
        "resourceType": "Patient",
        "extension": [{"url": "https://example.org/unknown", "valueString": "x"}],
    }
    issues = problems(validator.validate(patient))
    assert [(i.severity, i.code, i.expression) for i in issues] == [
        ("warning", "extension", ("Patient.extension[0]",))
    ]
    strict = Validator(validator.registry, strict_profiles=True)
    issue = only_error(strict.validate(patient))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "extension",
        ("Patient.extension[0]",),
        "GW-4107",
    )


def test_unknown_modifier_extension_is_an_error(validator: Validator) -> None:
    patient = {
        "resourceType": "Patient",
        "modifierExtension": [{"url": "https://example.org/unknown", "valueBoolean": True}],
    }
    issue = only_error(validator.validate(patient))
    assert (issue.code, issue.expression) == ("extension", ("Patient.modifierExtension[0]",))


def test_failed_invariant(validator: Validator) -> None:
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "period": {"start": "2026-03-02T10:00:00+01:00", "end": "2026-03-01T10:00:00+01:00"},
    }
    issue = only_error(validator.validate(encounter))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "invariant",
        ("Encounter.period",),
        "GW-4108",
    )
    assert issue.diagnostics.startswith("Constraint failed: per-1:")


def test_closed_slicing(test_validator: Validator) -> None:
    vitals = {"coding": [{"system": CATEGORY, "code": "vital-signs"}]}
    other = {"coding": [{"system": CATEGORY, "code": "laboratory"}]}
    good = observation(category=[vitals])
    assert not problems(test_validator.validate(good, [TEST_CLOSED]))
    issue = only_error(
        test_validator.validate(observation(category=[vitals, other]), [TEST_CLOSED])
    )
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "structure",
        ("Observation.category[1]",),
        "GW-4106",
    )


def test_slice_cardinality(test_validator: Validator) -> None:
    survey = {"coding": [{"system": CATEGORY, "code": "survey"}]}
    issue = only_error(test_validator.validate(observation(category=[survey]), [TEST_CLOSED]))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "required",
        ("Observation.category",),
        "GW-4106",
    )
    vitals = {"coding": [{"system": CATEGORY, "code": "vital-signs"}]}
    issue = only_error(
        test_validator.validate(
            observation(category=[vitals, copy.deepcopy(vitals)]), [TEST_CLOSED]
        )
    )
    assert (issue.code, issue.expression) == ("structure", ("Observation.category",))


def test_issues_in_an_item_matched_by_probing_a_slice(validator: Validator) -> None:
    """A component that only a walk against the slice can match (FR Core blood pressure:
    the discriminator's code is fixed below a nested slice) reports its issues at its own
    path, and the item that fails the first slice's probe is matched by the second."""
    unknown = {"url": "https://example.org/unknown", "valueString": "x"}

    def component(code: str, value: int) -> dict[str, Any]:
        quantity = {"value": value, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org"}
        return {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {**quantity, "code": "mm[Hg]", "extension": [unknown]},
        }

    bp = observation(
        meta={
            "profile": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-observation-bp"]
        },
        category=[{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
        code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        subject={"reference": "Patient/p"},
        effectiveDateTime="2024-01-01T08:11:00+01:00",
        component=[component("8480-6", 130), component("8462-4", 80)],
    )
    issues = problems(validator.validate(bp))
    assert [(i.severity, i.code, i.expression) for i in issues] == [
        (
            "warning",
            "extension",
            (f"Observation.component[{n}].value.ofType(Quantity).extension[0]",),
        )
        for n in (0, 1)
    ]
    assert issues[0].diagnostics == "Unknown extension https://example.org/unknown"


# -- the other rule kinds ----------------------------------------------------------------------
def test_unknown_element(validator: Validator) -> None:
    issue = only_error(validator.validate({"resourceType": "Patient", "nickname": "Jo"}))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "structure",
        ("Patient.nickname",),
        "GW-4101",
    )


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        ({"resourceType": "Patient", "name": {"family": "X"}}, "Patient.name"),
        ({"resourceType": "Patient", "gender": ["male"]}, "Patient.gender"),
        ({"resourceType": "Patient", "name": []}, "Patient.name"),
        ({"resourceType": "Patient", "maritalStatus": {}}, "Patient.maritalStatus"),
        ({"resourceType": "Patient", "birthDate": None}, "Patient.birthDate"),
    ],
)
def test_json_shape(validator: Validator, resource: dict[str, Any], expression: str) -> None:
    issue = only_error(validator.validate(resource))
    assert (issue.code, issue.expression) == ("structure", (expression,))


@pytest.mark.parametrize(
    ("value", "message"),
    [("2021-02-30", "calendar"), ("2021-2-3", "valid date"), ("", "empty")],
)
def test_primitive_lexical_rules(validator: Validator, value: str, message: str) -> None:
    issue = only_error(validator.validate({"resourceType": "Patient", "birthDate": value}))
    assert (issue.code, issue.expression) == ("value", ("Patient.birthDate",))
    assert message in issue.diagnostics


def test_primitive_extension_without_value(validator: Validator) -> None:
    ext = {
        "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
        "valueCode": "unknown",
    }
    patient = {"resourceType": "Patient", "_birthDate": {"extension": [ext]}}
    assert not problems(validator.validate(patient))
    issue = only_error(validator.validate({"resourceType": "Patient", "_nickname": {"id": "a"}}))
    assert issue.expression == ("Patient.nickname",)


def test_choice_type_not_allowed_by_profile(
    validator: Validator, gw_examples: dict[str, dict[str, Any]]
) -> None:
    dispense = copy.deepcopy(gw_examples["gw-medication-dispense"])
    dispense["medicationReference"] = {"reference": "Medication/1"}
    del dispense["medicationCodeableConcept"]
    issues = validator.validate(dispense)
    assert found(issues, "structure", "MedicationDispense.medication")
    assert found(issues, "required", "MedicationDispense.medication")


def test_fixed_value(validator: Validator, gw_examples: dict[str, dict[str, Any]]) -> None:
    dispense = copy.deepcopy(gw_examples["gw-medication-dispense"])
    dispense["quantity"]["system"] = "http://example.org/units"
    issue = only_error(validator.validate(dispense))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "value",
        ("MedicationDispense.quantity.system",),
        "GW-4104",
    )


def test_pattern_value(validator: Validator) -> None:
    consent = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}
            ]
        },
        "category": [{"text": "x"}],
        "patient": {"reference": "Patient/1"},
        "dateTime": "2026-03-02",
        "performer": [{"reference": "Patient/1"}],
        "policyRule": {"text": "x"},
        "provision": {"type": "permit"},
    }
    issue = only_error(validator.validate(consent, [GW + "gw-consent"]))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "value",
        ("Consent.scope",),
        "GW-4104",
    )


def test_maximum_cardinality(validator: Validator, gw_examples: dict[str, dict[str, Any]]) -> None:
    doc = copy.deepcopy(gw_examples["gw-document-reference"])
    doc["content"].append(copy.deepcopy(doc["content"][0]))
    issue = only_error(validator.validate(doc))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "structure",
        ("DocumentReference.content",),
        "GW-4102",
    )


def test_reference_target_type(
    validator: Validator, gw_examples: dict[str, dict[str, Any]]
) -> None:
    condition = copy.deepcopy(gw_examples["gw-condition"])
    condition["subject"] = {"reference": "Group/1"}
    issue = only_error(validator.validate(condition))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "structure",
        ("Condition.subject",),
        "GW-4109",
    )


def test_reference_inside_a_bundle_must_resolve(validator: Validator) -> None:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:5b2a4f0e-1b5e-4a0c-9d4e-1c2b3a4d5e6f",
                "resource": observation(
                    subject={"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"}
                ),
                "request": {"method": "POST", "url": "Observation"},
            }
        ],
    }
    issue = only_error(validator.validate(bundle))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "not-found",
        ("Bundle.entry[0].resource.subject.reference",),
        "GW-4109",
    )
    entry = bundle["entry"][0]["resource"]
    context = BundleContext.from_bundle(bundle)
    assert found(
        validator.validate(entry, bundle=context), "not-found", "Observation.subject.reference"
    )
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:00000000-0000-0000-0000-000000000000",
            "resource": {"resourceType": "Patient"},
            "request": {"method": "POST", "url": "Patient"},
        }
    )
    assert not problems(validator.validate(bundle))


def test_reference_type_resolved_in_the_bundle(validator: Validator) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"code": "AMB"},
                    "subject": {"reference": "urn:uuid:22222222-2222-2222-2222-222222222222"},
                },
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222",
                "resource": {"resourceType": "Medication"},
                "request": {"method": "POST", "url": "Medication"},
            },
        ],
    }
    issue = only_error(validator.validate(bundle))
    assert (issue.code, issue.expression) == ("structure", ("Bundle.entry[0].resource.subject",))
    assert "Medication" in issue.diagnostics


def test_extension_checked_against_its_definition(validator: Validator) -> None:
    patient = {
        "resourceType": "Patient",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueString": "Lyon",
            }
        ],
    }
    issues = validator.validate(patient)
    assert found(issues, "structure", "Patient.extension[0].value")
    assert found(issues, "required", "Patient.extension[0].value")


def test_extension_needs_a_value_or_extensions(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "extension": [{"url": "https://example.org/x"}]}
    issues = validator.validate(patient)
    assert found(issues, "invariant", "Patient.extension[0]")


def test_gateway_invariant_on_the_type_to_class_map(
    validator: Validator, gw_examples: dict[str, dict[str, Any]]
) -> None:
    doc = copy.deepcopy(gw_examples["gw-document-reference"])
    doc["category"][0]["coding"][0]["code"] = "43"
    issue = only_error(validator.validate(doc))
    assert (issue.code, issue.expression) == ("invariant", ("DocumentReference",))
    assert "gw-doc-1" in issue.diagnostics


def test_extension_used_outside_its_context(validator: Validator) -> None:
    birth_place = {
        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
        "valueAddress": {"city": "Lyon"},
    }
    issue = only_error(validator.validate(observation(extension=[birth_place])))
    assert (issue.code, issue.expression, issue.gateway_code) == (
        "extension",
        ("Observation.extension[0]",),
        "GW-4107",
    )
    contained = {"resourceType": "Patient", "id": "p", "extension": [birth_place]}
    holder = observation(contained=[contained], subject={"reference": "#p"})
    assert not [i for i in validator.validate(holder) if i.is_error]


def test_decimals_parsed_with_their_precision_are_json_numbers() -> None:
    from decimal import Decimal
    from pathlib import Path

    from gateway.validation import Validator

    validator = Validator.load(Path(__file__).resolve().parents[3] / "profiles", best_practice=None)
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "poids"},
        "valueQuantity": {"value": Decimal("72.50"), "unit": "kg"},
    }
    assert [i for i in validator.validate(observation) if i.is_error] == []
    wrong = {"resourceType": "Patient", "multipleBirthInteger": Decimal("2.0")}
    errors = [i for i in validator.validate(wrong) if i.is_error]
    assert [(i.code, i.expression) for i in errors] == [
        ("structure", ("Patient.multipleBirth.ofType(integer)",))
    ]


def test_french_text_with_no_break_spaces_is_a_valid_string() -> None:
    from pathlib import Path

    from gateway.validation import Validator

    validator = Validator.load(Path(__file__).resolve().parents[3] / "profiles", best_practice=None)
    note = {"resourceType": "Observation", "status": "final", "code": {"text": "Pouls\u00a0: 72"}}
    assert [i for i in validator.validate(note) if i.is_error] == []
    fullwidth = {"resourceType": "Patient", "birthDate": "\uff12\uff10\uff12\uff10"}
    assert [i.expression for i in validator.validate(fullwidth) if i.is_error] == [
        ("Patient.birthDate",)
    ]
