"""``$validate`` and profile validation on writes, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth import demo
from tests.demo_server import DemoGateway, demo_gateway

GW = "https://dmp-gateway.fr/fhir/StructureDefinition/"


def _codes(outcome: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [(i["severity"], i["code"], i.get("expression", [])) for i in outcome["issue"]]


def test_validate_reports_without_writing(client: httpx.Client) -> None:
    bad = {"resourceType": "Patient", "gender": "xyz"}
    r = client.post("/Patient/$validate", json=bad)
    assert r.status_code == 200
    assert ("error", "code-invalid", ["Patient.gender"]) in _codes(r.json())
    assert client.get("/Patient/_history").json().get("entry") is None, "nothing stored"
    ok = client.post("/Patient/$validate", json={"resourceType": "Patient", "gender": "female"})
    assert _codes(ok.json()) == [("information", "informational", [])]


def test_validate_with_a_profile_and_parameters(client: httpx.Client) -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": {"resourceType": "Patient", "gender": "female"}},
            {"name": "profile", "valueUri": GW + "gw-patient-ins"},
        ],
    }
    r = client.post("/Patient/$validate", json=parameters)
    assert r.status_code == 200
    assert any(sev == "error" for sev, _, _ in _codes(r.json())), "no INS: the profile fails"
    unknown = client.post(
        "/Patient/$validate", params={"profile": "http://x/none"}, json={"resourceType": "Patient"}
    )
    assert unknown.status_code == 400


def test_validate_structure_and_modes(client: httpx.Client) -> None:
    r = client.post("/Patient/$validate", json={"resourceType": "Patient", "foo": 1})
    assert ("error", "structure", ["Patient.foo"]) in _codes(r.json())
    # Every issue at once: a structural error does not hide the profile ones.
    both = client.post(
        "/Patient/$validate", json={"resourceType": "Patient", "foo": 1, "gender": "x"}
    )
    expressions = [c[2] for c in _codes(both.json())]
    assert ["Patient.foo"] in expressions and ["Patient.gender"] in expressions
    assert expressions.count(["Patient.foo"]) == 1  # named once, not by both validators
    created = client.post("/Patient", json={"resourceType": "Patient"}).json()
    delete = client.post(f"/Patient/{created['id']}/$validate", params={"mode": "delete"})
    assert _codes(delete.json()) == [("information", "informational", [])]
    assert client.post("/Patient/nobody/$validate", params={"mode": "delete"}).status_code == 404
    wrong = client.post(
        f"/Patient/{created['id']}/$validate",
        params={"mode": "update"},
        json={"resourceType": "Patient", "id": "other"},
    )
    assert ("error", "invalid", ["Patient.id"]) in _codes(wrong.json())
    assert client.get("/Patient/$validate").status_code == 405


def test_writes_refuse_profile_errors_with_422(client: httpx.Client) -> None:
    r = client.post("/Patient", json={"resourceType": "Patient", "gender": "xyz"})
    assert r.status_code == 422
    issues = r.json()["issue"]
    assert issues[0]["code"] == "processing"
    assert ["Patient.gender"] in [i.get("expression") for i in issues]
    declared = {"resourceType": "Patient", "meta": {"profile": [GW + "gw-patient-ins"]}}
    assert client.post("/Patient", json=declared).status_code == 422
    unknown_profile = {"resourceType": "Patient", "meta": {"profile": ["http://x/unknown"]}}
    warned = client.post(
        "/Patient", json=unknown_profile, headers={"prefer": "return=OperationOutcome"}
    )
    assert warned.status_code == 201
    assert any(i["severity"] == "warning" for i in warned.json()["issue"])


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("demo"), sqlite_template) as gateway:
        yield gateway


def _heart_rate(patient: str | None) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "valueQuantity": {
            "value": 72,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }
    if patient is not None:
        obs["subject"] = {"reference": f"Patient/{patient}"}
    return obs


@pytest.mark.parametrize("patient", ["alice", None], ids=["no-relationship", "no-subject"])
def test_validate_create_reports_what_the_create_would_be_refused_for(
    gw: DemoGateway, patient: str | None
) -> None:
    """mode=create answers with the rule a POST would be refused by, and writes nothing."""
    alice = demo.PATIENT_INS[0]
    with gw.client("dentist", patient=alice) as dentist:
        refused = dentist.post("/Observation", json=_heart_rate(patient))
        assert refused.status_code == 403
        rule = refused.json()["issue"][0]
        checked = dentist.post("/Observation/$validate", json=_heart_rate(patient))
    assert checked.status_code == 200
    issues = checked.json()["issue"]
    assert (rule["code"], rule["diagnostics"]) in [(i["code"], i["diagnostics"]) for i in issues]
    assert all(i["severity"] in ("error", "fatal") for i in issues if i["code"] == rule["code"])
    with gw.client("physician", patient=alice) as physician:
        allowed = physician.post("/Observation/$validate", json=_heart_rate("alice"))
    assert _codes(allowed.json()) == [("information", "informational", [])]
