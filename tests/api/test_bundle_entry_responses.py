"""The structured entry responses of a batch or transaction (FhirResponse.entries).

In-process callers (the intake) read them instead of parsing the response Bundle: they
must say what the Bundle says, entry by entry, in entry order.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.access.context import AccessContext
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.router import dispatch

_KEY = {"system": "urn:t", "value": "1"}


def _post(services: RecordServices, btype: str, entries: list[dict[str, Any]]) -> FhirResponse:
    bundle = {"resourceType": "Bundle", "type": btype, "entry": entries}
    request = FhirRequest(
        "POST", [], resource=bundle, base="", headers={"prefer": "return=representation"}
    )
    return dispatch(request, Repository(AccessContext.dev_open(), services))


def _agree(response: FhirResponse) -> list[str]:
    body = orjson.loads(response.body or b"{}")
    assert response.entries is not None
    assert len(response.entries) == len(body["entry"])
    statuses = []
    for item, entry in zip(body["entry"], response.entries, strict=True):
        assert item["response"]["status"].split()[0] == str(entry.status)
        resource = item.get("resource")
        if resource is None:
            assert entry.body is None or entry.status >= 300
        else:
            assert entry.version is not None and entry.body is not None
            assert resource["resourceType"] == entry.version.resource_type
            assert resource["id"] == entry.version.id
            assert resource["meta"]["versionId"] == str(entry.version.version)
        statuses.append(item["response"]["status"])
    return statuses


def test_transaction_entries_say_what_the_bundle_says(services: RecordServices) -> None:
    patient = {"resourceType": "Patient", "identifier": [_KEY]}
    first = _post(
        services,
        "transaction",
        [{"resource": patient, "request": {"method": "POST", "url": "Patient"}}],
    )
    assert _agree(first) == ["201 Created"]
    pid = orjson.loads(first.body or b"{}")["entry"][0]["resource"]["id"]
    second = _post(
        services,
        "transaction",
        [
            {
                "resource": patient,
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": "identifier=urn:t|1",
                },
            },
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    )
    assert _agree(second) == ["200 OK", "201 Created"]
    third = _post(
        services,
        "transaction",
        [
            {
                "resource": {**patient, "id": pid, "active": True},
                "request": {"method": "PUT", "url": f"Patient/{pid}"},
            }
        ],
    )
    assert _agree(third) == ["200 OK"]


def test_batch_entries_include_the_failures(services: RecordServices) -> None:
    response = _post(
        services,
        "batch",
        [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Patient", "id": "x"},
                "request": {"method": "PUT", "url": "Patient/y"},
            },
        ],
    )
    statuses = _agree(response)
    assert statuses[0] == "201 Created" and not statuses[1].startswith("2")
