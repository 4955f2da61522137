"""Batch and transaction Bundles over HTTP."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from gateway.rest import router

PATIENT_URN = "urn:uuid:6a3cc2c4-2b56-4a48-8e3c-1e2b0f7a4d10"


def _entry(resource: dict[str, Any] | None, method: str, url: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": {"method": method, "url": url, **extra}}
    if resource is not None:
        entry["resource"] = resource
    return entry


def _obs(subject: str, text: str = "x", *, performer: str | None = None) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": text},
        "subject": {"reference": subject},
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><a href="{subject}">p</a></div>',
        },
    }
    if performer:
        obs["performer"] = [{"reference": performer}]
    return obs


def _tx(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def test_transaction_resolves_placeholders(client: httpx.Client) -> None:
    patient = _entry({"resourceType": "Patient"}, "POST", "Patient")
    patient["fullUrl"] = PATIENT_URN
    r = client.post("/", json=_tx(patient, _entry(_obs(PATIENT_URN), "POST", "Observation")))
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    pid = bundle["entry"][0]["resource"]["id"]
    obs = bundle["entry"][1]["resource"]
    assert obs["subject"]["reference"] == f"Patient/{pid}"
    assert f'href="Patient/{pid}"' in obs["text"]["div"]
    assert client.get(f"/Observation/{obs['id']}").json() == obs


def test_transaction_is_atomic_and_names_the_failing_entry(client: httpx.Client) -> None:
    good = _entry(
        {"resourceType": "Patient", "identifier": [{"system": "urn:t", "value": "1"}]},
        "POST",
        "Patient",
    )
    bad = _entry({"resourceType": "Observation", "status": "final"}, "POST", "Observation")
    r = client.post("/", json=_tx(good, bad))
    assert r.status_code == 400
    issues = r.json()["issue"]
    assert issues[0]["expression"] == ["Bundle.entry[1]"] or "Bundle.entry[1]" in str(issues)
    assert "Bundle.entry[1].resource.code" in str(issues)
    search = client.get("/Patient", params={"identifier": "urn:t|1"}).json()
    assert search.get("total") == 0, "nothing of the failed transaction was stored"


def test_transaction_processing_order(client: httpx.Client) -> None:
    old = client.put("/Patient/ord-1", json={"resourceType": "Patient", "id": "ord-1"})
    assert old.status_code == 201
    r = client.post(
        "/",
        json=_tx(
            _entry(None, "GET", "Patient/ord-2"),
            _entry({"resourceType": "Patient", "id": "ord-2"}, "PUT", "Patient/ord-2"),
            _entry(None, "DELETE", "Patient/ord-1"),
        ),
    )
    assert r.status_code == 200, r.text
    entries = r.json()["entry"]
    assert [e["response"]["status"][:3] for e in entries] == ["200", "201", "200"]
    assert entries[0]["resource"]["id"] == "ord-2", "GET runs after PUT"
    assert client.get("/Patient/ord-1").status_code == 410


def test_conditional_references_and_creates(client: httpx.Client) -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "identifier": [{"system": "urn:rpps", "value": "10000000007"}],
    }
    cond = "identifier=urn:rpps|10000000007"
    first = _tx(
        _entry(practitioner, "POST", "Practitioner", ifNoneExist=cond),
        _entry({"resourceType": "Patient", "id": "p"}, "PUT", "Patient/p"),
        _entry(_obs("Patient/p", performer="Practitioner?" + cond), "POST", "Observation"),
    )
    r1 = client.post("/", json=first)
    assert r1.status_code == 200, r1.text
    pr_id = r1.json()["entry"][0]["resource"]["id"]
    performer = r1.json()["entry"][2]["resource"]["performer"][0]["reference"]
    assert performer == f"Practitioner/{pr_id}"
    r2 = client.post("/", json=first)
    assert r2.json()["entry"][0]["response"]["status"] == "200 OK"
    assert r2.json()["entry"][0]["resource"]["id"] == pr_id
    performer = r2.json()["entry"][2]["resource"]["performer"][0]["reference"]
    assert performer == f"Practitioner/{pr_id}"
    minimal = client.post("/", json=first, headers={"prefer": "return=minimal"}).json()
    matched = minimal["entry"][0]
    assert matched["response"]["status"] == "200 OK" and "resource" not in matched
    assert matched["response"]["etag"] == 'W/"1"'
    unresolved = _tx(
        _entry(
            _obs("Patient/p", performer="Practitioner?identifier=urn:rpps|none"),
            "POST",
            "Observation",
        )
    )
    r3 = client.post("/", json=unresolved)
    assert r3.status_code == 412
    assert "matches no Practitioner" in r3.json()["issue"][0]["diagnostics"]


def test_a_full_url_twice_is_refused(client: httpx.Client) -> None:
    """bdl-7: fullUrl is unique in a Bundle (unless the entries' meta.versionId differ);
    else which entry a placeholder names is a guess."""
    one = _entry({"resourceType": "Patient"}, "POST", "Patient")
    two = _entry({"resourceType": "Patient", "gender": "male"}, "POST", "Patient")
    one["fullUrl"] = two["fullUrl"] = PATIENT_URN
    for kind in ("transaction", "batch"):
        r = client.post(
            "/", json=_tx(one, two, _entry(_obs(PATIENT_URN), "POST", "Observation"), kind=kind)
        )
        assert r.status_code == 400, r.text
        issue = r.json()["issue"][0]
        assert issue["expression"] == ["Bundle.entry[1].fullUrl"]
        assert issue["details"]["coding"][0]["code"] == "GW-1811"
        assert "Bundle.entry[0]" in issue["diagnostics"]
    assert not client.get("/Patient").json().get("entry"), "nothing written"


def test_a_placeholder_no_entry_has_is_refused(client: httpx.Client) -> None:
    """A urn:uuid:/urn:oid: reference names an entry of the Bundle: one no entry has is
    refused at its element, never stored as a link to nothing."""
    patient = _entry({"resourceType": "Patient"}, "POST", "Patient")
    patient["fullUrl"] = PATIENT_URN
    for dangling in ("urn:uuid:0e0b6a3c-5b7e-4c0e-9d1a-000000000000", "urn:oid:1.2.3.4"):
        r = client.post(
            "/",
            json=_tx(
                patient,
                _entry(_obs(PATIENT_URN, performer=dangling), "POST", "Observation"),
            ),
        )
        assert r.status_code == 400, r.text
        issue = r.json()["issue"][0]
        assert issue["expression"] == ["Bundle.entry[1].resource.performer[0].reference"]
        assert dangling in issue["diagnostics"]
        assert issue["details"]["coding"][0]["code"] == "GW-1031"
    assert not client.get("/Observation").json().get("entry")


def test_same_resource_twice_is_refused(client: httpx.Client) -> None:
    r = client.post(
        "/",
        json=_tx(
            _entry({"resourceType": "Patient", "id": "twice"}, "PUT", "Patient/twice"),
            _entry(None, "DELETE", "Patient/twice"),
        ),
    )
    assert r.status_code == 400
    assert "once" in r.json()["issue"][0]["diagnostics"]


def test_transaction_patch_entry(client: httpx.Client) -> None:
    client.put("/Patient/pt", json={"resourceType": "Patient", "id": "pt"})
    import base64
    import json

    patch = base64.b64encode(
        json.dumps([{"op": "add", "path": "/gender", "value": "male"}]).encode()
    )
    binary = {
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": patch.decode(),
    }
    r = client.post("/", json=_tx(_entry(binary, "PATCH", "Patient/pt")))
    assert r.status_code == 200, r.text
    assert client.get("/Patient/pt").json()["gender"] == "male"


def test_batch_entries_succeed_or_fail_alone(client: httpx.Client) -> None:
    r = client.post(
        "/",
        json=_tx(
            _entry({"resourceType": "Patient"}, "POST", "Patient"),
            _entry({"resourceType": "Observation", "status": "final"}, "POST", "Observation"),
            _entry(None, "GET", "Patient/nope"),
            kind="batch",
        ),
    )
    assert r.status_code == 200
    bundle = r.json()
    assert bundle["type"] == "batch-response"
    statuses = [e["response"]["status"][:3] for e in bundle["entry"]]
    assert statuses == ["201", "400", "404"]
    outcome = bundle["entry"][1]["response"]["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert "Bundle.entry[1].resource.code" in str(outcome)


def test_a_batch_entry_failing_unexpectedly_fails_alone(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entries before and after it keep their results (and the client its ids): the
    failure is that entry's own 500 OperationOutcome, never a 500 for the whole batch."""

    def broken(req: Any, repo: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(
        "gateway.rest.router.ROUTES",
        tuple(replace(r, handler=broken) if r.interaction == "read" else r for r in router.ROUTES),
    )
    r = client.post(
        "/",
        json=_tx(
            _entry(_obs("Patient/pt"), "POST", "Observation"),
            _entry(None, "GET", "Patient/pt"),
            _entry(None, "GET", "Patient/pt/_history/99999999999999999999"),
            _entry(_obs("Patient/pt", "y"), "POST", "Observation"),
            kind="batch",
        ),
    )
    assert r.status_code == 200, r.text
    entries = r.json()["entry"]
    assert [e["response"]["status"][:3] for e in entries] == ["201", "500", "404", "201"]
    failed = entries[1]["response"]["outcome"]
    assert failed["resourceType"] == "OperationOutcome"
    assert failed["issue"][0]["expression"] == ["Bundle.entry[1]"]
    assert "secret internals" not in r.text and "RuntimeError" not in r.text
    for e in (entries[0], entries[3]):
        assert client.get(e["response"]["location"]).status_code == 200


def test_batch_entries_may_not_reference_each_other(client: httpx.Client) -> None:
    patient = _entry({"resourceType": "Patient"}, "POST", "Patient")
    patient["fullUrl"] = PATIENT_URN
    r = client.post(
        "/", json=_tx(patient, _entry(_obs(PATIENT_URN), "POST", "Observation"), kind="batch")
    )
    statuses = [e["response"]["status"][:3] for e in r.json()["entry"]]
    assert statuses == ["201", "400"]


def test_malformed_bundles(client: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"resourceType": "Patient"}, "needs a Bundle"),
        (_tx({"resource": {"resourceType": "Patient"}}), "request is required"),
        (_tx(_entry(None, "POST", "Patient")), "needs a resource"),
        (_tx(_entry(None, "BREW", "Patient")), "method must be one of"),
        (_tx(_entry(None, "GET", "http://elsewhere.example/Patient/1")), "relative"),
        (
            _tx(_entry({"resourceType": "Parameters"}, "POST", "Observation/_search")),
            "its search parameters go in request.url",
        ),
    ]
    for body, fragment in cases:
        r = client.post("/", json=body)
        assert r.status_code == 400, body
        assert fragment in r.json()["issue"][0]["diagnostics"]


def test_a_post_search_entry_takes_its_parameters_from_its_url(client: httpx.Client) -> None:
    """The criteria are never dropped: a POST _search entry carries none in a resource
    (refused above), and those of its URL filter the answer as a GET's would."""
    created = [client.post("/Observation", json=_obs("Patient/pt", text)) for text in ("a", "b")]
    assert all(r.status_code == 201 for r in created)
    r = client.post(
        "/",
        json=_tx(
            _entry(None, "POST", "Observation/_search?code:text=a"),
            _entry(None, "GET", "Observation?code:text=a"),
            kind="batch",
        ),
    )
    assert r.status_code == 200, r.text
    posted, got = (e["resource"] for e in r.json()["entry"])
    assert [e["resource"]["code"]["text"] for e in posted["entry"]] == ["a"]
    assert posted["entry"] == got["entry"]
