"""Reference, chain, ``_has``, ``_list``, uri and compartment searches on both back-ends."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gateway.access.context import AccessContext
from gateway.record.indexing import SearchIndexer
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from tests.contract.searching import BASE, idset, page, seed


@pytest.fixture
def local(services: RecordServices) -> Repository:
    """A repository whose indexer knows this server's base (GATEWAY_BASE_URL)."""
    indexer = SearchIndexer(services.search.registry, base_url=BASE, blind=services.blind)
    return Repository(AccessContext.dev_open(), dataclasses.replace(services, indexer=indexer))


def _obs(rid: str, code: str = "c0", **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": "urn:c", "code": code}]},
        **fields,
    }


def _ref(target: str) -> dict[str, Any]:
    return {"reference": target}


WORLD: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "pa", "name": [{"family": "Alice"}]},
    {"resourceType": "Patient", "id": "pb", "name": [{"family": "Bob"}]},
    {"resourceType": "Practitioner", "id": "dr", "name": [{"family": "House"}]},
    {"resourceType": "Group", "id": "g1", "type": "person", "actual": True},
    _obs("r1", "c1", subject=_ref("Patient/pa"), performer=[_ref("Practitioner/dr")]),
    _obs("r2", "c2", subject=_ref("Patient/pb")),
    _obs("r3", "c3", subject=_ref(f"{BASE}/Patient/pa")),
    _obs("r4", "c4", subject=_ref("http://other.org/fhir/Patient/pa")),
    _obs("r5", "c5", subject={"identifier": {"system": "urn:ins", "value": "123"}}),
    _obs("r6", "c6", subject=_ref("Group/g1")),
    _obs("r7", "c7"),
    {
        "resourceType": "List",
        "id": "l1",
        "status": "current",
        "mode": "working",
        "entry": [{"item": _ref("Observation/r2")}, {"item": _ref("Observation/r6")}],
    },
]

REFERENCE_CASES = [
    ("subject=Patient/pa", {"r1", "r3"}),
    ("subject=pa", {"r1", "r3"}),
    ("subject:Patient=pa", {"r1", "r3"}),
    (f"subject={BASE}/Patient/pa", {"r1", "r3"}),
    ("subject=http://other.org/fhir/Patient/pa", {"r4"}),
    ("subject=Patient/pa,Patient/pb", {"r1", "r2", "r3"}),
    ("subject:identifier=urn:ins|123", {"r5"}),
    ("subject:missing=true", {"r7"}),
    ("subject:missing=false", {"r1", "r2", "r3", "r4", "r5", "r6"}),
    ("subject=Group/g1", {"r6"}),
    ("subject:Group=g1", {"r6"}),
    ("performer=Practitioner/dr", {"r1"}),
    ("subject:Patient.name=alice", {"r1", "r3"}),
    ("subject.name=bob", {"r2"}),
    ("subject:Patient.name=alice&code=urn:c|c3", {"r3"}),
    ("subject:Patient._id=pb", {"r2"}),
    ("performer:Practitioner.name=house", {"r1"}),
    ("_list=l1", {"r2", "r6"}),
    ("_list=List/l1&code=urn:c|c2", {"r2"}),
    ("_list=nothing", set()),
]


def test_references_chains_and_lists(local: Repository) -> None:
    seed(local, WORLD)
    failures = [
        (q, got, w) for q, w in REFERENCE_CASES if (got := idset(local, "Observation", q)) != w
    ]
    assert not failures


def test_reverse_chains(local: Repository) -> None:
    seed(local, WORLD)
    assert idset(local, "Patient", "_has:Observation:subject:code=urn:c|c1") == {"pa"}
    assert idset(local, "Patient", "_has:Observation:subject:code=urn:c|c2,urn:c|c3") == {
        "pa",
        "pb",
    }
    assert idset(local, "Patient", "_has:Observation:subject:code=urn:c|c4") == set()
    assert idset(local, "Practitioner", "_has:Observation:performer:code=urn:c|c1") == {"dr"}
    both = "_has:Observation:subject:code=urn:c|c2&name=bob"
    assert idset(local, "Patient", both) == {"pb"}


def test_compartment(local: Repository) -> None:
    seed(local, WORLD)
    in_pa = page(local, "Observation", "_count=100", compartment=("Patient", "pa"))
    assert {v.id for v in in_pa.matches} == {"r1", "r3"}
    filtered = page(local, "Observation", "code=urn:c|c3", compartment=("Patient", "pa"))
    assert [v.id for v in filtered.matches] == ["r3"]
    itself = page(local, "Patient", "", compartment=("Patient", "pa"))
    assert [v.id for v in itself.matches] == ["pa"]
    across = page(local, None, "_count=100", compartment=("Patient", "pb"))
    assert {f"{v.resource_type}/{v.id}" for v in across.matches} == {"Patient/pb", "Observation/r2"}


def test_uri_below_and_above(repo: Repository) -> None:
    urls = {
        "v1": "http://acme.org/fhir/ValueSet/123",
        "v2": "http://acme.org/fhir/ValueSet/124",
        "v3": "http://acme.org/fhir",
        "v4": "http://acme.org/fhir/ValueSet/123/sub",
        "v5": "http://acme.org/fhirish",
    }
    seed(
        repo,
        [
            {"resourceType": "ValueSet", "id": rid, "status": "active", "url": url}
            for rid, url in urls.items()
        ],
    )
    assert idset(repo, "ValueSet", "url=http://acme.org/fhir/ValueSet/123") == {"v1"}
    assert idset(repo, "ValueSet", "url:below=http://acme.org/fhir/ValueSet") == {"v1", "v2", "v4"}
    assert idset(repo, "ValueSet", "url:below=http://acme.org/fhir/ValueSet/123") == {"v1", "v4"}
    assert idset(repo, "ValueSet", "url:below=http://acme.org/fhir") == {"v1", "v2", "v3", "v4"}
    above = "url:above=http://acme.org/fhir/ValueSet/123/_history/5"
    assert idset(repo, "ValueSet", above) == {"v1", "v3"}
    assert idset(repo, "ValueSet", "url:missing=false") == set(urls)
