"""The CapabilityStatement is valid R4 and says exactly what the route table serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from gateway.fhir.resource_types import RESOURCE_TYPES
from gateway.fhir.structure import validate_json_form
from gateway.rest.router import ROUTES
from gateway.validation import Validator

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def _validator() -> Validator:
    return Validator.load(PROFILES)


def test_capability_statement(client: httpx.Client) -> None:
    cs = client.get("/metadata").json()
    assert validate_json_form(cs) == "CapabilityStatement"
    assert _validator().check(cs, base_only=True).structural == []
    assert cs["fhirVersion"] == "4.0.1"
    assert cs["format"] == ["application/fhir+json", "json"]
    for fmt in cs["format"]:  # every format it declares is served
        assert client.get("/metadata", params={"_format": fmt}).status_code == 200
    rest = cs["rest"][0]
    assert {r["type"] for r in rest["resource"]} == RESOURCE_TYPES
    served = {r.interaction for r in ROUTES if r.shape[:1] == ("{type}",)}
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert {i["code"] for i in patient["interaction"]} == served
    assert patient["conditionalDelete"] == "single"
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch", "history-system"}


def _resource(cs: dict[str, Any], rtype: str) -> dict[str, Any]:
    return next(r for r in cs["rest"][0]["resource"] if r["type"] == rtype)


# One request per interaction code, on an id that need not exist: any answer but 405.
_PROBES = {
    "read": ("GET", "/AuditEvent/1"),
    "vread": ("GET", "/AuditEvent/1/_history/1"),
    "update": ("PUT", "/AuditEvent/1"),
    "patch": ("PATCH", "/AuditEvent/1"),
    "delete": ("DELETE", "/AuditEvent/1"),
    "history-instance": ("GET", "/AuditEvent/1/_history"),
    "history-type": ("GET", "/AuditEvent/_history"),
    "create": ("POST", "/AuditEvent"),
    "search-type": ("GET", "/AuditEvent"),
}
_WRITES = {"create", "update", "patch", "delete"}


def test_audit_event_lists_only_what_is_served(client: httpx.Client) -> None:
    """The gateway alone writes AuditEvents: no write interaction is listed for them,
    and every listed one is answered (not 405), every write one 405."""
    cs = client.get("/metadata").json()
    audit = _resource(cs, "AuditEvent")
    listed = {i["code"] for i in audit["interaction"]}
    assert listed == {"read", "search-type"}
    assert "operation" not in audit
    assert "updateCreate" not in audit and "readHistory" not in audit
    event = {"resourceType": "AuditEvent"}
    for code in listed:
        method, path = _PROBES[code]
        assert client.request(method, path).status_code != 405, code
    for code in _WRITES:
        method, path = _PROBES[code]
        body = [{"op": "add", "path": "/id", "value": "1"}] if method == "PATCH" else event
        r = client.request(method, path, json=body)
        assert r.status_code == 405, (code, r.status_code)
        assert "written by the gateway only" in r.text
    # The unlisted reads are not served either: the log keeps no versions or history.
    for code in set(_PROBES) - listed - _WRITES:
        method, path = _PROBES[code]
        r = client.request(method, path)
        assert r.status_code == 404, (code, r.status_code)
        assert "without versions or history" in r.text
    # Any other type still lists every write interaction.
    assert {i["code"] for i in _resource(cs, "Observation")["interaction"]} >= _WRITES


_AUDIT_VALUES = {
    "reference": "Patient/p1",
    "token": "R",
    "date": "ge2026-01-01",
}


def test_audit_event_lists_the_parameters_its_search_takes(client: httpx.Client) -> None:
    """AuditEvents are searched over the log's columns: the statement lists exactly the
    parameters that search takes, and the search refuses an R4 one it does not list."""
    audit = _resource(client.get("/metadata").json(), "AuditEvent")
    params = {p["name"]: p for p in audit["searchParam"]}
    assert {"patient", "agent", "date", "purpose", "_id"} <= set(params)
    assert params["date"]["definition"] == "http://hl7.org/fhir/SearchParameter/AuditEvent-date"
    for name, param in params.items():
        value = {"_id": "1", "outcome": "0", "purpose": "TREAT"}.get(name)
        value = value or _AUDIT_VALUES[param["type"]]
        r = client.get("/AuditEvent", params={name: value})
        assert r.status_code == 200, (name, r.text)
    unlisted = client.get("/AuditEvent", params={"entity-name": "x"})
    assert unlisted.status_code == 400 and "entity-name" not in params


def test_export_operations_point_to_their_own_definitions(client: httpx.Client) -> None:
    cs = client.get("/metadata").json()
    bulk = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"

    def export_of(rtype: str) -> str:
        ops = _resource(cs, rtype)["operation"]
        return str(next(op["definition"] for op in ops if op["name"] == "export"))

    assert export_of("Patient") == bulk + "patient-export"
    assert export_of("Group") == bulk + "group-export"


def test_search_include_and_revinclude_are_what_the_search_accepts(
    client: httpx.Client,
) -> None:
    cs = client.get("/metadata").json()
    observation = _resource(cs, "Observation")
    assert {"*", "Observation:subject", "Observation:patient"} <= set(observation["searchInclude"])
    patient = _resource(cs, "Patient")
    assert {"*", "Observation:subject", "Observation:patient"} <= set(patient["searchRevInclude"])
    assert not any(v.startswith("AuditEvent:") for v in patient["searchRevInclude"])
    assert "searchInclude" not in _resource(cs, "AuditEvent")
    for value in observation["searchInclude"]:
        r = client.get("/Observation", params={"_include": value})
        assert r.status_code == 200, (value, r.text)
    for value in patient["searchRevInclude"]:
        r = client.get("/Patient", params={"_revinclude": value})
        assert r.status_code == 200, (value, r.text)
    # Something the search refuses is not listed.
    assert client.get("/Observation", params={"_include": "Observation:code"}).status_code == 400
    assert "Observation:code" not in observation["searchInclude"]


def test_security_says_how_calls_are_authenticated(client: httpx.Client) -> None:
    security = client.get("/metadata").json()["rest"][0]["security"]
    assert security["cors"] is False  # no cors_origins configured on the test server
    (service,) = security["service"]
    assert service["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "OAuth",
            "display": "OAuth",
        }
    ]
    assert security["description"]
