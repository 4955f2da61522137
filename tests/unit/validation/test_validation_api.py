"""The public surface the gateway calls, and its contract: issues for any input, no network."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import gateway.validation
from gateway.errors import Issue, operation_outcome
from gateway.validation import BundleContext, ProfileRegistry, Validator
from gateway.validation.report import GATEWAY_CODES


def test_exported_members() -> None:
    assert gateway.validation.__all__ == [
        "BundleContext",
        "Findings",
        "ProfileRegistry",
        "Validator",
    ]


def test_load_and_validate(profiles_dir: Path) -> None:
    validator = Validator.load(
        profiles_dir,
        default_profiles={
            "Patient": ["https://dmp-gateway.fr/fhir/StructureDefinition/gw-patient-ins"]
        },
        strict_profiles=True,
    )
    assert isinstance(validator.registry, ProfileRegistry)
    issues = validator.validate({"resourceType": "Patient"})
    assert issues
    assert all(isinstance(i, Issue) for i in issues)
    outcome = operation_outcome(issues)
    assert outcome["issue"][0]["expression"]


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ([], "JSON object"),
        ("Patient", "JSON object"),
        ({}, "no resourceType"),
        ({"resourceType": "Nothing"}, "unknown resourceType"),
        ({"resourceType": 3}, "unknown resourceType"),
    ],
)
def test_not_a_resource(validator: Validator, resource: Any, message: str) -> None:
    issues = validator.validate(resource)
    assert [i.code for i in issues] == ["structure"]
    assert message in issues[0].diagnostics


def test_unknown_profile_warns_and_strict_mode_refuses(
    validator: Validator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the validator must never use the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": ["http://example.org/StructureDefinition/p"]},
    }
    issues = validator.validate(patient)
    assert [(i.severity, i.code, i.expression) for i in issues if i.code == "not-found"] == [
        ("warning", "not-found", ("Patient",))
    ]
    strict = Validator(validator.registry, strict_profiles=True)
    assert [i.severity for i in strict.validate(patient) if i.code == "not-found"] == ["error"]


def test_profile_of_another_type_is_an_error(validator: Validator) -> None:
    issues = validator.validate(
        {"resourceType": "Patient"},
        ["https://dmp-gateway.fr/fhir/StructureDefinition/gw-condition"],
    )
    assert [(i.code, i.expression) for i in issues if i.is_error] == [("processing", ("Patient",))]


def test_requested_profiles_accept_versions_and_a_single_string(validator: Validator) -> None:
    url = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"
    a = validator.validate({"resourceType": "Patient"}, [url + "|2.2.0"])
    b = validator.validate({"resourceType": "Patient"}, url)
    assert a == b


def test_best_practice_severity_is_configurable(validator: Validator) -> None:
    patient = {"resourceType": "Patient"}
    assert [i.severity for i in validator.validate(patient)] == ["information"]
    quiet = Validator(validator.registry, best_practice=None)
    assert quiet.validate(patient) == []
    loud = Validator(validator.registry, best_practice="warning")
    assert [i.severity for i in loud.validate(patient)] == ["warning"]


def test_every_issue_carries_a_known_gateway_code(validator: Validator) -> None:
    resource = {
        "resourceType": "Patient",
        "gender": "x",
        "active": 1,
        "foo": 2,
        "identifier": [{"system": "https://rpps.esante.gouv.fr", "value": "1"}],
    }
    issues = validator.validate(resource)
    assert len(issues) >= 4
    assert {i.gateway_code for i in issues} <= set(GATEWAY_CODES)


def test_bundle_context_resolves_full_urls_and_relative_references() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"}},
            {
                "fullUrl": "https://h/fhir/Practitioner/7",
                "resource": {"resourceType": "Practitioner", "id": "7"},
            },
            {"resource": {"resourceType": "Organization", "id": "o"}},
            "junk",
        ],
    }
    context = BundleContext.from_bundle(bundle)
    assert context.resolve("urn:uuid:1") == "Patient"
    assert context.resolve("Practitioner/7") == "Practitioner"
    assert context.resolve("Organization/o") == "Organization"
    assert context.resolve("Patient/2") is None


def test_contained_resources_are_validated(validator: Validator) -> None:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Organization", "id": "o", "name": "O", "active": "yes"}],
        "managingOrganization": {"reference": "#o"},
    }
    issues = [i for i in validator.validate(patient) if i.is_error]
    assert [(i.code, i.expression) for i in issues] == [
        ("structure", ("Patient.contained[0].active",))
    ]
    patient["managingOrganization"] = {"reference": "#nothing"}
    patient["contained"][0]["active"] = True
    keys = sorted(
        i.diagnostics.split(":")[1].strip() for i in validator.validate(patient) if i.is_error
    )
    assert keys == ["dom-3", "ref-1"]


def test_local_reference_type_is_checked(validator: Validator) -> None:
    patient = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Medication", "id": "m"}],
        "managingOrganization": {"reference": "#m"},
    }
    issues = [i for i in validator.validate(patient) if i.is_error]
    assert [(i.code, i.expression) for i in issues] == [
        ("structure", ("Patient.managingOrganization",))
    ]


def test_threads_sharing_a_cold_validator_see_the_same_results(profiles_dir: Path) -> None:
    examples = sorted((profiles_dir.parent / "fixtures/validation/fr-core-examples").glob("*.json"))
    resources = [json.loads(p.read_text(encoding="utf-8")) for p in examples] * 4
    expected = Validator.load(profiles_dir)
    cold = Validator.load(profiles_dir)  # nothing compiled yet: threads race to build it
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(cold.validate, resources))
    assert results == [expected.validate(r) for r in resources]
