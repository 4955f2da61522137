"""Errors are OperationOutcomes with the right status; limits give 413/400, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import LimitSettings
from tests.support import fresh_sqlite, live_server, settings_for


def _outcome(r: httpx.Response) -> dict[str, object]:
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/Unknown/1", {}, 404, "not-found"),
        ("GET", "/Patient/missing", {}, 404, "not-found"),
        ("DELETE", "/metadata", {}, 405, "not-supported"),
        ("POST", "/Patient/123", {"json": {}}, 405, "not-supported"),
        (
            "GET",
            "/Patient/1",
            {"headers": {"accept": "application/fhir+xml"}},
            406,
            "not-supported",
        ),
        ("GET", "/metadata", {"params": {"_format": "xml"}}, 415, "not-supported"),
        (
            "GET",
            "/Patient/alice",
            {"headers": {"accept": "application/fhir+json; fhirVersion=5.0"}},
            406,
            "not-supported",
        ),
        (
            "POST",
            "/Patient",
            {
                "json": {"resourceType": "Patient"},
                "headers": {"content-type": "application/fhir+json; fhirVersion=3.0"},
            },
            415,
            "not-supported",
        ),
        (
            "POST",
            "/Patient",
            {"content": b"<Patient/>", "headers": {"content-type": "application/fhir+xml"}},
            415,
            "not-supported",
        ),
        ("POST", "/Patient", {"content": b'{"resourceType": "Patient",'}, 400, "invalid"),
        (
            "POST",
            "/Patient",
            {"content": b'{"resourceType": "Patient", "gender": "male", "gender": "female"}'},
            400,
            "invalid",
        ),
        ("POST", "/Patient", {"json": {"resourceType": "Observation"}}, 400, "invalid"),
        ("POST", "/Patient", {"json": {"resourceType": "Patient", "x": 1}}, 400, "structure"),
        ("PUT", "/Patient/1", {}, 400, "invalid"),
        ("GET", "/Patient/_history", {"params": {"_count": "5000"}}, 400, "invalid"),
        ("GET", "/Patient/_history", {"params": {"_count": "-1"}}, 400, "invalid"),
        ("GET", "/_history", {"params": {"_since": "last week"}}, 400, "invalid"),
        ("GET", "/_history", {"params": {"_sort": "x"}}, 400, "not-supported"),
        ("GET", "/_history", {"params": {"_page": "forged.cursor"}}, 400, "invalid"),
        ("POST", "/", {"json": {"resourceType": "Bundle", "type": "collection"}}, 400, "invalid"),
        ("GET", "/Patient/1/$unknown-op", {}, 404, "not-found"),
    ],
)
def test_error_statuses(
    client: httpx.Client,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    code: str,
) -> None:
    r = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert _outcome(r)["issue"][0]["code"] == code  # type: ignore[index]


def test_a_body_that_is_no_resource_is_named_for_what_it_is(client: httpx.Client) -> None:
    """``curl -d`` sends a form: 415 naming its media type (not an empty resource); a
    JSON body that is not an object says what it is."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    for method, path in (("POST", "/Patient"), ("PUT", "/Patient/p1"), ("POST", "/")):
        r = client.request(method, path, content=b'{"resourceType": "Patient"}', headers=form)
        assert r.status_code == 415, (method, path, r.text)
        issue = _outcome(r)["issue"][0]  # type: ignore[index]
        assert "application/x-www-form-urlencoded" in issue["diagnostics"]
        assert issue["details"]["coding"][0]["code"] == "GW-1015"
    for method, path in (("POST", "/Patient"), ("PUT", "/Patient/p1")):
        for body, kind in (
            (b"[1, 2]", "a JSON array"),
            (b'"x"', "a JSON string"),
            (b"3", "a JSON number"),
        ):
            r = client.request(
                method, path, content=body, headers={"content-type": "application/fhir+json"}
            )
            assert r.status_code == 400, (method, body, r.text)
            diagnostics = _outcome(r)["issue"][0]["diagnostics"]  # type: ignore[index]
            assert kind in diagnostics and "nothing" not in diagnostics, diagnostics


@pytest.mark.parametrize(
    "accept", ["text/html", "application/fhir+xml", "text/html, application/xhtml+xml;q=0.9"]
)
def test_an_accept_no_answer_can_satisfy_is_406(client: httpx.Client, accept: str) -> None:
    """RFC 9110 §15.5.7: 406 for what the client accepts; 415 is for what it sent."""
    r = client.get("/Patient/alice", headers={"accept": accept})
    assert r.status_code == 406, r.text
    issue = _outcome(r)["issue"][0]  # type: ignore[index]
    assert issue["details"]["coding"][0]["code"] == "GW-1033"
    assert accept in issue["diagnostics"]
    both = client.get("/metadata", headers={"accept": f"{accept}, application/json;q=0.1"})
    assert both.status_code == 200


def test_405_names_the_allowed_methods(client: httpx.Client) -> None:
    r = client.delete("/metadata")
    assert r.headers["allow"] == "GET"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/metadata", "GET"),
        ("PUT", "/metadata", "GET"),
        ("POST", "/metadata", "GET"),
        ("PATCH", "/AuditEvent/1", "GET"),
        ("PUT", "/Patient/alice/_history/1", "GET"),
    ],
)
def test_a_bodyless_write_where_the_method_is_not_served_is_405_not_400(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    """The missing body is not the problem; the method is."""
    _refused_with_allow(client.request(method, path), allow)


def test_a_property_named_twice_is_refused_naming_it(client: httpx.Client) -> None:
    r = client.post(
        "/Patient",
        content=b'{"resourceType": "Patient", "gender": "male", "gender": "female"}',
        headers={"content-type": "application/fhir+json"},
    )
    assert r.status_code == 400
    issue = _outcome(r)["issue"][0]  # type: ignore[index]
    assert issue["details"]["coding"][0]["code"] == "GW-1026"
    assert "'gender'" in issue["diagnostics"]


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PROPFIND"])
@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/Patient/alice", "DELETE, GET, PATCH, PUT"),
        ("/Patient", "DELETE, GET, PATCH, POST, PUT"),
        ("/Patient/_search", "POST"),
        ("/metadata", "GET"),
        ("/Patient/alice/$everything", "GET"),
        ("/AuditEvent/1", "GET"),
    ],
)
def test_405_for_a_method_without_a_route_carries_allow(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    _refused_with_allow(client.request(method, path), allow)


def _refused_with_allow(r: httpx.Response, allow: str) -> None:
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert _outcome(r)["issue"][0]["code"] == "not-supported"  # type: ignore[index]


def test_a_method_without_a_route_on_no_fhir_path_is_404(client: httpx.Client) -> None:
    assert client.options("/Unknown/1").status_code == 404
    assert client.options("/Patient/1/2/3/4/5").status_code == 404


def test_405_outside_fhir_carries_allow(server: object) -> None:
    with httpx.Client(base_url=server.url) as http:  # type: ignore[attr-defined]
        r = http.post("/healthz")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"


def test_invalid_resource_issues_carry_fhirpath(client: httpx.Client) -> None:
    r = client.post(
        "/Observation",
        json={"resourceType": "Observation", "status": "final", "code": {"coding": [{"code": 1}]}},
    )
    issues = r.json()["issue"]
    assert ["Observation.code.coding[0].code"] in [i.get("expression") for i in issues]


def test_outside_fhir_is_an_outcome_too(server: object) -> None:
    with httpx.Client(base_url=server.url) as http:  # type: ignore[attr-defined]
        r = http.get("/nowhere")
    assert r.status_code == 404
    assert _outcome(r)["issue"][0]["code"] == "not-found"  # type: ignore[index]


def test_request_id_is_echoed_or_made(client: httpx.Client) -> None:
    assert (
        client.get("/metadata", headers={"x-request-id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    made = client.get("/metadata", headers={"x-request-id": "bad id;drop"}).headers["x-request-id"]
    assert made != "bad id" and len(made) == 36


@pytest.fixture
def small_server(tmp_path: Path, sqlite_template: Path) -> object:
    fresh_sqlite(sqlite_template, tmp_path)
    limits = LimitSettings(
        max_body_bytes=4096, max_bundle_entries=3, max_count=10, max_json_depth=10
    )
    settings = settings_for("sqlite", tmp_path, None, limits=limits)
    with live_server(create_app(settings)) as live:
        yield live


def test_limits(small_server: object) -> None:
    url = small_server.url + "/fhir"  # type: ignore[attr-defined]
    with httpx.Client(base_url=url) as http:
        big = {"resourceType": "Patient", "name": [{"text": "x" * 5000}]}
        r = http.post("/Patient", json=big)
        assert r.status_code == 413 and _outcome(r)
        # The same body, streamed without a Content-Length, is stopped as it arrives.
        chunks = (json.dumps(big)[i : i + 512].encode() for i in range(0, 6000, 512))
        r = http.post("/Patient", content=chunks, headers={"content-type": "application/fhir+json"})
        assert r.status_code == 413
        entries = [
            {
                "resource": {"resourceType": "Basic", "code": {"text": "x"}},
                "request": {"method": "POST", "url": "Basic"},
            }
        ] * 4
        r = http.post("/", json={"resourceType": "Bundle", "type": "batch", "entry": entries})
        assert r.status_code == 413
        deep: dict[str, object] = {"resourceType": "Basic", "code": {"text": "x"}}
        node = deep
        for _ in range(12):
            child: dict[str, object] = {"url": "http://x"}
            node["extension"] = [child]
            node = child
        r = http.post("/Basic", json=deep)
        assert r.status_code == 400 and "deeper" in r.json()["issue"][0]["diagnostics"]
        assert http.get("/_history", params={"_count": "11"}).status_code == 400


def test_a_500_shows_no_internals(tmp_path: Path, sqlite_template: Path) -> None:
    fresh_sqlite(sqlite_template, tmp_path)
    app: FastAPI = create_app(settings_for("sqlite", tmp_path, None))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    with live_server(app) as live, httpx.Client(base_url=live.url) as http:
        r = http.get("/boom")
    assert r.status_code == 500
    assert "secret" not in r.text and "passwd" not in r.text
    assert _outcome(r)["issue"][0]["code"] == "exception"  # type: ignore[index]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-request-id"]


def test_health(server: object) -> None:
    with httpx.Client(base_url=server.url) as http:  # type: ignore[attr-defined]
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json() == {"status": "ready"}
