"""``Patient/$everything`` over HTTP, and what the CapabilityStatement says about search."""

from __future__ import annotations

from typing import Any

import httpx


def _world(client: httpx.Client) -> dict[str, str]:
    dr = client.post("/Practitioner", json={"resourceType": "Practitioner"}).json()["id"]
    clinic = {"resourceType": "Organization", "name": "Clinique"}
    org = client.post("/Organization", json=clinic).json()["id"]
    p = client.post(
        "/Patient",
        json={
            "resourceType": "Patient",
            "generalPractitioner": [{"reference": f"Practitioner/{dr}"}],
            "managingOrganization": {"reference": f"Organization/{org}"},
        },
    ).json()["id"]
    other = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    enc = client.post(
        "/Encounter",
        json={
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": f"Patient/{p}"},
            "participant": [{"individual": {"reference": f"Practitioner/{dr}"}}],
        },
    ).json()["id"]
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    o1 = client.post(
        "/Observation",
        json={
            **obs,
            "subject": {"reference": f"Patient/{p}"},
            "encounter": {"reference": f"Encounter/{enc}"},
        },
    ).json()
    client.post("/Observation", json={**obs, "subject": {"reference": f"Patient/{other}"}})
    return {
        "p": p,
        "dr": dr,
        "org": org,
        "enc": enc,
        "o1": o1["id"],
        "since": o1["meta"]["lastUpdated"],
    }


def _entries(bundle: dict[str, Any], mode: str) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == mode
    }


def test_everything_of_one_patient(client: httpx.Client) -> None:
    w = _world(client)
    bundle = client.get(f"/Patient/{w['p']}/$everything").json()
    assert bundle["type"] == "searchset"
    assert _entries(bundle, "match") == {
        f"Patient/{w['p']}",
        f"Encounter/{w['enc']}",
        f"Observation/{w['o1']}",
    }
    assert _entries(bundle, "include") == {f"Practitioner/{w['dr']}", f"Organization/{w['org']}"}
    assert bundle["total"] == 3
    typed = client.get(f"/Patient/{w['p']}/$everything", params={"_type": "Observation"}).json()
    assert _entries(typed, "match") == {f"Observation/{w['o1']}"}
    since = client.get(f"/Patient/{w['p']}/$everything", params={"_since": w["since"]}).json()
    assert _entries(since, "match") == {f"Observation/{w['o1']}"}


def test_everything_pages(client: httpx.Client) -> None:
    w = _world(client)
    seen: set[str] = set()
    url: str | None = f"/Patient/{w['p']}/$everything?_count=1"
    pages = 0
    while url:
        bundle = client.get(url).json()
        pages += 1
        seen |= _entries(bundle, "match")
        url = next((lk["url"] for lk in bundle["link"] if lk["relation"] == "next"), None)
    assert pages == 3 and len(seen) == 3


def test_everything_refusals(client: httpx.Client) -> None:
    w = _world(client)
    assert client.get("/Patient/nobody/$everything").status_code == 404
    r = client.get(f"/Patient/{w['p']}/$everything", params={"start": "2020"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["start"]
    lenient = client.get(
        f"/Patient/{w['p']}/$everything",
        params={"start": "2020"},
        headers={"prefer": "handling=lenient"},
    ).json()
    (outcome,) = [e["resource"] for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["issue"][0]["expression"] == ["start"]
    assert (
        client.get(f"/Patient/{w['p']}/$everything", params={"_type": "Organization"}).status_code
        == 400
    )
    assert (
        client.get(f"/Patient/{w['p']}/$everything", params={"_since": "yesterday"}).status_code
        == 400
    )
    assert client.get(f"/Observation/{w['o1']}/$everything").status_code == 404


def test_everything_of_every_patient(client: httpx.Client) -> None:
    w = _world(client)
    bundle = client.get("/Patient/$everything", params={"_count": "100"}).json()
    matches = _entries(bundle, "match")
    assert f"Observation/{w['o1']}" in matches and f"Patient/{w['p']}" in matches
    assert len([m for m in matches if m.startswith("Observation/")]) == 2
    assert not any(m.startswith(("Practitioner/", "Organization/")) for m in matches)


def test_capability_statement_lists_served_search_parameters(client: httpx.Client) -> None:
    cs = client.get("/metadata").json()
    rest = cs["rest"][0]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    params = {p["name"]: p for p in patient["searchParam"]}
    assert {"name", "birthdate", "identifier", "_id", "_lastUpdated"} <= set(params)
    assert params["birthdate"]["type"] == "date"
    assert params["name"]["definition"] == "http://hl7.org/fhir/SearchParameter/Patient-name"
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    names = {p["name"] for p in observation["searchParam"]}
    assert "code-value-quantity" not in names  # composite: known, not served
    assert {
        "name": "everything",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    } in patient["operation"]
    assert rest["compartment"] == ["http://hl7.org/fhir/CompartmentDefinition/patient"]
