"""``$validate`` and profile validation on writes, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

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
