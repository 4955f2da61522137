"""The CapabilityStatement is valid R4 and says exactly what the route table serves."""

from __future__ import annotations

from pathlib import Path

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
