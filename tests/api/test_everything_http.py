"""``Patient/$everything`` over HTTP, and what the CapabilityStatement says about search."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


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
    r = client.get(f"/Patient/{w['p']}/$everything", params={"foo": "2020"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["foo"]
    lenient = client.get(
        f"/Patient/{w['p']}/$everything",
        params={"foo": "2020"},
        headers={"prefer": "handling=lenient"},
    ).json()
    (outcome,) = [e["resource"] for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["issue"][0]["expression"] == ["foo"]
    assert (
        client.get(f"/Patient/{w['p']}/$everything", params={"_type": "Organization"}).status_code
        == 400
    )
    r = client.get(f"/Patient/{w['p']}/$everything", params={"_since": "yesterday"})
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["_since"]
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


def _care_world(client: httpx.Client) -> dict[str, str]:
    """A patient with care in 2019 (a condition), 2020 (a stay), 2021 (a result), an
    ongoing episode since 2018, and an allergy and a result without any care date."""
    p = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    subject = {"reference": f"Patient/{p}"}
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}

    def post(body: dict[str, Any]) -> str:
        r = client.post(f"/{body['resourceType']}", json=body)
        assert r.status_code == 201, r.text
        return f"{body['resourceType']}/{r.json()['id']}"

    return {
        "patient": f"Patient/{p}",
        "condition": post(
            {"resourceType": "Condition", "subject": subject, "onsetDateTime": "2019-06-01"}
        ),
        "stay": post(
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"code": "IMP"},
                "subject": subject,
                "period": {"start": "2020-05-02T10:00:00+02:00", "end": "2020-05-09"},
            }
        ),
        "result": post({**obs, "subject": subject, "effectiveDateTime": "2021-03-04"}),
        "episode": post(
            {
                "resourceType": "EpisodeOfCare",
                "status": "active",
                "patient": subject,
                "period": {"start": "2018-01-01"},
            }
        ),
        "undated": post({**obs, "subject": subject}),
        "allergy": post(
            {
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                            "code": "active",
                        }
                    ]
                },
                "patient": subject,
            }
        ),
    }


def test_everything_start_and_end_select_care_dates(client: httpx.Client) -> None:
    """R4 $everything ``start``/``end``: resources whose care date (the R4 clinical-date
    parameter ``date``, or a type's own, such as Condition onset) overlaps the range;
    the Patient and resources without a care date stay (the spec leaves the ranges to
    the server)."""
    w = _care_world(client)
    pid = w["patient"].removeprefix("Patient/")
    kept = {w["patient"], w["undated"], w["allergy"]}

    def care(**params: str) -> set[str]:
        r = client.get(f"/Patient/{pid}/$everything", params={**params, "_count": "100"})
        assert r.status_code == 200, r.text
        return _entries(r.json(), "match")

    assert care() == set(w.values())
    assert care(start="2021") == kept | {w["result"], w["episode"]}
    assert care(end="2019-12") == kept | {w["condition"], w["episode"]}
    assert care(start="2020-05-09", end="2020-05") == kept | {w["stay"], w["episode"]}
    assert care(start="2020-05-10", end="2020-12-31") == kept | {w["episode"]}
    assert care(start="2021-03-04", end="2021-03-04") == kept | {w["result"], w["episode"]}
    every = client.get("/Patient/$everything", params={"start": "2021", "_count": "100"})
    assert w["stay"] not in _entries(every.json(), "match")
    assert w["result"] in _entries(every.json(), "match")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2021-02-30"}, "end"),
        ({"start": "ge2021"}, "start"),
        ({"start": "2022", "end": "2021"}, "end"),
        ([("start", "2020"), ("start", "2021")], "start"),
    ],
)
def test_everything_refuses_bad_care_dates_in_both_modes(
    client: httpx.Client, params: Any, name: str
) -> None:
    w = _world(client)
    for prefer in ("handling=strict", "handling=lenient"):
        r = client.get(f"/Patient/{w['p']}/$everything", params=params, headers={"prefer": prefer})
        assert r.status_code == 400, (prefer, r.text)
        assert r.json()["issue"][0]["expression"] == [name]
