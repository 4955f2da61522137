"""CRUD, versioning and conditional headers over real HTTP, on both back-ends."""

from __future__ import annotations

import json
from typing import Any

import httpx

FHIR_JSON = {"content-type": "application/fhir+json"}


def _patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": "Martin", "given": ["Léa"]}], **extra}


def _create(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/{resource['resourceType']}", json=resource)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_create_assigns_id_and_version(client: httpx.Client) -> None:
    r = client.post("/Patient", json=_patient(id="client-chosen"), headers=FHIR_JSON)
    assert r.status_code == 201
    body = r.json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert r.headers["etag"] == 'W/"1"'
    assert r.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert "last-modified" in r.headers
    assert r.headers["content-type"].startswith("application/fhir+json")


def test_read_vread_and_conditional_read(client: httpx.Client) -> None:
    created = _create(client, _patient())
    rid = created["id"]
    r = client.get(f"/Patient/{rid}")
    assert r.status_code == 200 and r.json() == created
    assert client.get(f"/Patient/{rid}/_history/1").json() == created
    assert client.get(f"/Patient/{rid}", headers={"if-none-match": 'W/"1"'}).status_code == 304
    for held in ('W/"7", W/"1"', '"1"', "*", 'W/"3" ,"1"'):
        assert client.get(f"/Patient/{rid}", headers={"if-none-match": held}).status_code == 304
    for other in ('W/"2"', 'W/"2", "3"', '"abc"', "W/"):
        answer = client.get(f"/Patient/{rid}", headers={"if-none-match": other})
        assert answer.status_code == 200 and answer.json() == created
    # If-None-Match decides alone: If-Modified-Since is then ignored (RFC 9110 §13.1.3).
    both = {"if-none-match": 'W/"2"', "if-modified-since": r.headers["last-modified"]}
    assert client.get(f"/Patient/{rid}", headers=both).status_code == 200
    later = r.headers["last-modified"]
    assert client.get(f"/Patient/{rid}", headers={"if-modified-since": later}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(f"/Patient/{rid}", headers={"if-modified-since": old}).status_code == 200
    head = client.head(f"/Patient/{rid}")
    assert head.status_code == 200 and head.content == b""
    assert client.get(f"/Patient/{rid}/_history/9").status_code == 404
    assert client.get(f"/Patient/{rid}/_history/x").status_code == 400


def test_read_and_vread_refuse_parameters_they_do_not_define(client: httpx.Client) -> None:
    """Read takes _format, _pretty, _summary and _elements (http.html#read); any other
    parameter is a 400 naming it, as a strict search does, and is ignored when the
    caller asks for lenient handling (a plain resource cannot carry a warning)."""
    created = _create(client, _patient())
    rid = created["id"]
    lenient = {"prefer": "handling=lenient"}
    for path in (f"/Patient/{rid}", f"/Patient/{rid}/_history/1"):
        for params in ({"foo": "bar"}, {"_summary": "true", "_count": "1"}, {"name": "x"}):
            r = client.get(path, params=params)
            assert r.status_code == 400, (path, params, r.text)
            issue = r.json()["issue"][0]
            name = next(k for k in params if k != "_summary")
            assert issue["expression"] == [name] and name in issue["diagnostics"]
            assert issue["details"]["coding"][0]["code"] == "GW-1112"
            assert client.get(path, params=params, headers=lenient).status_code == 200
        served = {"_format": "json", "_pretty": "true", "_summary": "false", "_elements": "name"}
        assert client.get(path, params=served).status_code == 200
        assert client.head(path, params={"foo": "bar"}).status_code == 400


def test_a_version_id_past_any_version_is_not_found(client: httpx.Client) -> None:
    """A version id of 20 digits is a well-formed FHIR id no version ever had: 404, not a
    500 from a number too large for the database's integer column."""
    rid = _create(client, _patient())["id"]
    for vid in ("99999999999999999999", "2147483648", "9223372036854775808", "0"):
        r = client.get(f"/Patient/{rid}/_history/{vid}")
        assert r.status_code == 404, (vid, r.text)
        assert r.json()["issue"][0]["details"]["coding"][0]["code"] == "GW-3006"
    # Digits to str.isdigit() that int() refuses: malformed, not a 500.
    assert client.get(f"/Patient/{rid}/_history/\u00b2").status_code == 400
    tag = 'W/"\u00b2"'.encode("latin-1")
    superscript = client.put(f"/Patient/{rid}", json=_patient(id=rid), headers={b"if-match": tag})
    assert superscript.status_code == 400, superscript.text


def test_update_versions_and_if_match(client: httpx.Client) -> None:
    created = _create(client, _patient())
    rid = created["id"]
    changed = {**created, "gender": "female"}
    r = client.put(f"/Patient/{rid}", json=changed, headers={"if-match": 'W/"1"'})
    assert r.status_code == 200 and r.json()["meta"]["versionId"] == "2"
    stale = client.put(f"/Patient/{rid}", json=changed, headers={"if-match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["issue"][0]["code"] == "conflict"
    same = client.put(f"/Patient/{rid}", json=changed)
    assert same.status_code == 200 and same.json()["meta"]["versionId"] == "2", "no-op update"
    assert client.get(f"/Patient/{rid}/_history/1").json()["meta"]["versionId"] == "1"


def test_if_match_star_means_any_current_version(client: httpx.Client) -> None:
    """RFC 9110 §13.1.1: ``If-Match: *`` holds when a current representation exists."""
    star = {"if-match": "*"}
    created = _create(client, _patient())
    rid = created["id"]
    put = client.put(f"/Patient/{rid}", json={**created, "gender": "male"}, headers=star)
    assert put.status_code == 200, put.text
    ops = [{"op": "add", "path": "/active", "value": True}]
    patch = client.patch(
        f"/Patient/{rid}",
        content=json.dumps(ops),
        headers={**star, "content-type": "application/json-patch+json"},
    )
    assert patch.status_code == 200, patch.text
    assert client.delete(f"/Patient/{rid}", headers=star).status_code == 204
    for refused in (
        client.put(f"/Patient/{rid}", json=_patient(id=rid), headers=star),
        client.put("/Patient/never-was", json=_patient(id="never-was"), headers=star),
        client.delete(f"/Patient/{rid}", headers=star),
    ):
        assert refused.status_code == 412, refused.text
        assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "GW-3012"
    assert client.get("/Patient/never-was").status_code == 404


def test_an_id_that_is_no_fhir_id_is_refused_in_every_url(client: httpx.Client) -> None:
    """1-64 of [A-Za-z0-9-.]: else 400 GW-1201 (as a PUT answers), its diagnostics free of
    the control characters the URL carried."""
    rid = _create(client, _patient())["id"]
    for bad in ("x" * 65, "%00", "a%09b", "a%1B[31mb", "a b", "%C3%A9"):
        for method, path in (
            ("GET", f"/Patient/{bad}"),
            ("GET", f"/Patient/{bad}/_history"),
            ("GET", f"/Patient/{bad}/_history/1"),
            ("DELETE", f"/Patient/{bad}"),
            ("GET", f"/Patient/{rid}/_history/{bad}"),
            ("GET", f"/Patient/{bad}/$everything"),
            ("POST", f"/Patient/{bad}/$validate"),
        ):
            r = client.request(method, path)
            assert r.status_code == 400, (method, path, r.text)
            issue = r.json()["issue"][0]
            code = "GW-1206" if path.endswith(f"_history/{bad}") else "GW-1201"
            assert issue["details"]["coding"][0]["code"] == code, (path, issue)
            assert all(c.isprintable() for c in issue["diagnostics"]), issue["diagnostics"]
    assert client.get(f"/Patient/{'x' * 64}").status_code == 404
    # A newline ends the path no route matches: 404, and not echoed either.
    newline = client.get("/Patient/a%0Ab")
    assert newline.status_code == 404
    assert newline.json()["issue"][0]["diagnostics"].isprintable()
    unknown = client.get("/Pat%1B[31mient/1")
    assert unknown.status_code == 404
    assert unknown.json()["issue"][0]["diagnostics"].isprintable()


def test_update_if_none_match_star_writes_only_what_does_not_exist(client: httpx.Client) -> None:
    created = _create(client, _patient())
    rid = created["id"]
    star = {"if-none-match": "*"}
    exists = client.put(f"/Patient/{rid}", json={**created, "gender": "male"}, headers=star)
    assert exists.status_code == 412, exists.text
    assert exists.json()["issue"][0]["code"] == "conflict"
    assert client.get(f"/Patient/{rid}").json() == created, "not written"
    new = client.put("/Patient/inm-new", json=_patient(id="inm-new"), headers=star)
    assert new.status_code == 201 and new.json()["meta"]["versionId"] == "1"
    assert (
        client.put("/Patient/inm-new", json=_patient(id="inm-new"), headers=star).status_code == 412
    )
    assert client.delete("/Patient/inm-new").status_code == 204
    revived = client.put("/Patient/inm-new", json=_patient(id="inm-new"), headers=star)
    assert revived.status_code == 201, "a deleted resource has no current version"


def test_update_if_none_match_etags(client: httpx.Client) -> None:
    created = _create(client, _patient())
    rid = created["id"]
    changed = {**created, "gender": "male"}
    current = client.put(f"/Patient/{rid}", json=changed, headers={"if-none-match": 'W/"9", W/"1"'})
    assert current.status_code == 412
    other = client.put(f"/Patient/{rid}", json=changed, headers={"if-none-match": 'W/"9"'})
    assert other.status_code == 200 and other.json()["meta"]["versionId"] == "2"
    assert (
        client.put(f"/Patient/{rid}", json=changed, headers={"if-none-match": "x"}).status_code
        == 400
    )


def test_update_errors(client: httpx.Client) -> None:
    created = _create(client, _patient())
    rid = created["id"]
    mismatch = client.put(f"/Patient/{rid}", json={**created, "id": "other"})
    assert mismatch.status_code == 400
    assert mismatch.json()["issue"][0]["expression"] == ["Patient.id"]
    no_id = {k: v for k, v in created.items() if k != "id"}
    assert client.put(f"/Patient/{rid}", json=no_id).status_code == 400
    wrong_type = client.put(f"/Patient/{rid}", json={**created, "resourceType": "Group"})
    assert wrong_type.status_code == 400
    bad = client.put(f"/Patient/{rid}", json={**created, "birthDate": "yesterday"})
    assert bad.status_code == 400
    assert bad.json()["issue"][1]["expression"] == ["Patient.birthDate"]


def test_references_a_plain_write_cannot_follow_are_refused_at_their_element(
    client: httpx.Client,
) -> None:
    """Outside a transaction, a conditional reference has nothing to resolve it and a
    placeholder no entry to name, and a malformed literal no target: 400 at the element,
    not stored as written, nor a 403 for a patient the policy could not find."""
    assert client.put("/Patient/alice", json=_patient(id="alice")).status_code == 201
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    cases = [
        ("subject", {"reference": "Patient?identifier=urn:t|1"}, "GW-1032", "transaction"),
        ("performer", [{"reference": "Practitioner?identifier=x|y"}], "GW-1032", "transaction"),
        ("subject", {"reference": "urn:uuid:0e0b6a3c-5b7e-4c0e-9d1a-1e2b0f7a4d10"}, "GW-1031", ""),
        ("subject", {"reference": "Patient/alice/extra/bits"}, "GW-1030", "Invalid reference"),
        ("subject", {"reference": "Patient/"}, "GW-1030", "Invalid reference"),
        ("performer", [{"reference": "Nope/1"}], "GW-1030", "Invalid reference"),
    ]
    for element, value, code, fragment in cases:
        body = {**obs, "subject": {"reference": "Patient/alice"}, element: value}
        where = f"Observation.{element}{'[0]' if isinstance(value, list) else ''}.reference"
        for r in (
            client.post("/Observation", json=body),
            client.put("/Observation/o1", json={**body, "id": "o1"}),
        ):
            assert r.status_code == 400, (value, r.text)
            issue = r.json()["issue"][0]
            assert issue["expression"] == [where], (value, issue)
            assert issue["details"]["coding"][0]["code"] == code
            assert fragment in issue["diagnostics"]
    assert not client.get("/Observation").json().get("entry")
    elsewhere = [{"reference": "https://elsewhere.example/fhir/Practitioner/9"}]
    fine = {**obs, "subject": {"reference": "Patient/alice/_history/1"}, "performer": elsewhere}
    assert client.post("/Observation", json=fine).status_code == 201


def test_update_as_create(client: httpx.Client) -> None:
    r = client.put("/Patient/chosen-1", json=_patient(id="chosen-1"))
    assert r.status_code == 201
    assert r.json()["id"] == "chosen-1"


def test_patch(client: httpx.Client) -> None:
    created = _create(client, _patient())
    rid = created["id"]
    ops = [{"op": "add", "path": "/gender", "value": "male"}]
    r = client.patch(
        f"/Patient/{rid}", json=ops, headers={"content-type": "application/json-patch+json"}
    )
    assert r.status_code == 200 and r.json()["gender"] == "male"
    assert r.json()["meta"]["versionId"] == "2"
    assert client.patch(f"/Patient/{rid}", json=ops, headers=FHIR_JSON).status_code == 415
    failing = [{"op": "test", "path": "/gender", "value": "female"}]
    r = client.patch(
        f"/Patient/{rid}", json=failing, headers={"content-type": "application/json-patch+json"}
    )
    assert r.status_code == 422
    invalid = [{"op": "replace", "path": "/gender", "value": 42}]
    r = client.patch(
        f"/Patient/{rid}", json=invalid, headers={"content-type": "application/json-patch+json"}
    )
    assert r.status_code == 400, "the patched resource is validated like any update"


def test_patch_errors_name_the_operation_and_path_never_the_resource(
    client: httpx.Client,
) -> None:
    weight = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "valueQuantity": {"value": 73.25, "unit": "kg"},
    }
    rid = _create(client, weight)["id"]
    patch_json = {"content-type": "application/json-patch+json"}
    missing = [{"op": "replace", "path": "/nope/x", "value": 1}]
    r = client.patch(f"/Observation/{rid}", json=missing, headers=patch_json)
    assert r.status_code == 422
    text = r.json()["issue"][0]["diagnostics"]
    assert "operation 0 (replace)" in text and "'nope'" in text and "/nope/x" in text
    failing = [
        {"op": "test", "path": "/status", "value": "final"},
        {"op": "test", "path": "/valueQuantity/value", "value": 80},
    ]
    r = client.patch(f"/Observation/{rid}", json=failing, headers=patch_json)
    assert r.status_code == 422
    tested = r.json()["issue"][0]["diagnostics"]
    assert "operation 1 (test)" in tested and "/valueQuantity/value" in tested
    assert "73.25" not in r.text and "<class" not in r.text
    for body in (text, tested):
        for value in ("73.25", "kg", "29463-7", "loinc", "resourceType", "<class", "{", "'str'"):
            assert value not in body, (value, body)


def test_delete_then_gone_and_history_kept(client: httpx.Client) -> None:
    rid = _create(client, _patient())["id"]
    assert client.delete(f"/Patient/{rid}").status_code == 204
    assert client.delete(f"/Patient/{rid}").status_code == 204, "deleting again is harmless"
    gone = client.get(f"/Patient/{rid}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert client.get(f"/Patient/{rid}/_history/1").status_code == 200
    assert client.get(f"/Patient/{rid}/_history/2").status_code == 410
    assert client.delete("/Patient/never-existed").status_code == 404
    revived = client.put(f"/Patient/{rid}", json=_patient(id=rid))
    assert revived.status_code == 201 and revived.json()["meta"]["versionId"] == "3"


def test_prefer_return(client: httpx.Client) -> None:
    r = client.post("/Patient", json=_patient(), headers={"prefer": "return=minimal"})
    assert r.status_code == 201 and r.content == b"" and "location" in r.headers
    r = client.post("/Patient", json=_patient(), headers={"prefer": "return=OperationOutcome"})
    assert r.status_code == 201 and r.json()["resourceType"] == "OperationOutcome"


def test_conditional_create(client: httpx.Client) -> None:
    ident = {"identifier": [{"system": "urn:test", "value": "42"}]}
    cond = {"if-none-exist": "identifier=urn:test|42"}
    first = client.post("/Patient", json=_patient(**ident), headers=cond)
    assert first.status_code == 201
    again = client.post("/Patient", json=_patient(**ident), headers=cond)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    client.post("/Patient", json=_patient(**ident))
    several = client.post("/Patient", json=_patient(**ident), headers=cond)
    assert several.status_code == 412


def test_conditional_update_and_delete(client: httpx.Client) -> None:
    ident = {"identifier": [{"system": "urn:test", "value": "7"}]}
    created = client.put("/Patient?identifier=urn:test|7", json=_patient(**ident))
    assert created.status_code == 201
    rid = created.json()["id"]
    updated = client.put("/Patient?identifier=urn:test|7", json=_patient(gender="male", **ident))
    assert updated.status_code == 200 and updated.json()["id"] == rid
    assert client.delete("/Patient?identifier=urn:test|7").status_code == 204
    assert client.get(f"/Patient/{rid}").status_code == 410
    assert client.delete("/Patient?identifier=urn:test|7").status_code == 404
    client.post("/Patient", json=_patient(**ident))
    client.post("/Patient", json=_patient(**ident))
    assert client.delete("/Patient?identifier=urn:test|7").status_code == 412
    no_criteria = client.delete("/Patient")
    assert no_criteria.status_code == 400
    assert "criteria" in no_criteria.json()["issue"][0]["diagnostics"]


def test_conditional_patch(client: httpx.Client) -> None:
    ident = {"identifier": [{"system": "urn:test", "value": "p"}]}
    _create(client, _patient(**ident))
    r = client.patch(
        "/Patient?identifier=urn:test|p",
        json=[{"op": "add", "path": "/gender", "value": "other"}],
        headers={"content-type": "application/json-patch+json"},
    )
    assert r.status_code == 200 and r.json()["gender"] == "other"


def test_update_as_create_can_be_refused(tmp_path: object, sqlite_template: object) -> None:
    from pathlib import Path

    from gateway.app import create_app
    from tests.support import fresh_sqlite, live_server, settings_for

    assert isinstance(tmp_path, Path)
    assert isinstance(sqlite_template, Path)
    fresh_sqlite(sqlite_template, tmp_path)
    app = create_app(settings_for("sqlite", tmp_path, None, update_create=False))
    with live_server(app) as live, httpx.Client(base_url=live.url + "/fhir") as http:
        r = http.put("/Patient/x1", json={"resourceType": "Patient", "id": "x1"})
        assert r.status_code == 405
        assert r.headers["allow"] == "DELETE, GET, PATCH", "every 405 carries Allow"
        assert http.get("/metadata").json()["rest"][0]["resource"][0]["updateCreate"] is False
