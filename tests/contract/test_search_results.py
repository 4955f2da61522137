"""Common parameters, sorting, totals and includes on both back-ends."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import BadRequest
from gateway.fhir.instant import format_instant
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from tests.contract.searching import ids, idset, page, seed, with_clock

T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z


def _obs(rid: str, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": "urn:c", "code": "x"}]},
        **fields,
    }


def test_id_last_updated_tag_profile_security(services: RecordServices) -> None:
    for i, resource in enumerate(
        [
            _obs("a", meta={"tag": [{"system": "urn:t", "code": "red"}]}),
            _obs("b", meta={"profile": ["http://x.org/StructureDefinition/p"]}),
            _obs("c", meta={"security": [{"system": "urn:s", "code": "R"}]}),
        ]
    ):
        seed(with_clock(services, T0 + i * 1_000_000), [resource])
    repo = with_clock(services, T0 + 10_000_000)
    cases = [
        ("_id=a", {"a"}),
        ("_id=a,c", {"a", "c"}),
        ("_id:not=a", {"b", "c"}),
        ("_id=zzz", set()),
        (f"_lastUpdated=gt{format_instant(T0)[:19]}Z", {"b", "c"}),
        (f"_lastUpdated=ge{format_instant(T0)}", {"a", "b", "c"}),
        (f"_lastUpdated=lt{format_instant(T0 + 1_000_000)}", {"a"}),
        (f"_lastUpdated={format_instant(T0 + 1_000_000)[:19]}Z", {"b"}),
        ("_lastUpdated=2023-11-14", {"a", "b", "c"}),
        ("_tag=urn:t|red", {"a"}),
        ("_tag=red", {"a"}),
        ("_tag:not=urn:t|red", {"b", "c"}),
        ("_profile=http://x.org/StructureDefinition/p", {"b"}),
        ("_security=urn:s|R", {"c"}),
        ("_security:missing=true", {"a", "b"}),
        ("_id=a&_tag=red", {"a"}),
        ("_id=b&_tag=red", set()),
    ]
    failures = [(q, got, w) for q, w in cases if (got := idset(repo, "Observation", q)) != w]
    assert not failures


def test_sort_several_keys_descending_missing_last_and_stable(repo: Repository) -> None:
    seed(
        repo,
        [
            _obs("a", effectiveDateTime="2020-01-01", valueQuantity={"value": 3}),
            _obs("b", effectiveDateTime="2021-01-01", valueQuantity={"value": 1}),
            _obs("c", effectiveDateTime="2020-01-01", valueQuantity={"value": 2}),
            _obs("d", valueQuantity={"value": 2}),
            _obs("e", effectivePeriod={"start": "2019-06-01", "end": "2022-01-01"}),
            _obs("f", effectiveDateTime="2020-01-01", valueQuantity={"value": 2}),
        ],
    )
    assert ids(repo, "Observation", "_sort=date") == ["e", "a", "c", "f", "b", "d"]
    assert ids(repo, "Observation", "_sort=-date") == ["e", "b", "a", "c", "f", "d"]
    assert ids(repo, "Observation", "_sort=date,-value-quantity") == ["e", "a", "c", "f", "b", "d"]
    assert ids(repo, "Observation", "_sort=value-quantity,-date") == ["b", "c", "f", "d", "a", "e"]
    assert ids(repo, "Observation", "_sort=-_id") == ["f", "e", "d", "c", "b", "a"]
    assert ids(repo, "Observation", "_sort=-_lastUpdated") == ["f", "e", "d", "c", "b", "a"]
    assert ids(repo, "Observation", "") == ["a", "b", "c", "d", "e", "f"]


def test_totals_count_and_estimate(repo: Repository) -> None:
    seed(repo, [_obs(f"o{i}") for i in range(7)])
    assert page(repo, "Observation", "_count=3").total is None
    assert page(repo, "Observation", "_count=3&_total=accurate").total == 7
    assert page(repo, "Observation", "_count=3&_total=estimate").total == 7
    assert page(repo, "Observation", "_count=10").total == 7
    assert page(repo, "Observation", "_count=10&_total=none").total is None
    counted = page(repo, "Observation", "_summary=count")
    assert (counted.total, counted.matches) == (7, [])
    assert page(repo, "Observation", "_count=0&_total=accurate").total == 7
    zero = page(repo, "Observation", "_count=0")  # the count is what _count=0 asks for
    assert (zero.total, zero.matches) == (7, [])
    assert page(repo, "Observation", "_count=0&_total=none").total is None


def _encounter(rid: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": rid,
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": f"Patient/{patient}"},
        "participant": [{"individual": {"reference": "Practitioner/dr"}}],
    }


INCLUDED_WORLD: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p",
        "generalPractitioner": [{"reference": "Practitioner/dr"}],
    },
    {"resourceType": "Practitioner", "id": "dr"},
    _encounter("e1", "p"),
    _encounter("e2", "p"),
    _obs("o1", subject={"reference": "Patient/p"}, encounter={"reference": "Encounter/e1"}),
    _obs("o2", subject={"reference": "Patient/p"}, encounter={"reference": "Encounter/e1"}),
    _obs("o3", subject={"reference": "Patient/p"}, encounter={"reference": "Encounter/e2"}),
    _obs("o4", subject={"reference": "Patient/p"}, hasMember=[{"reference": "Observation/o5"}]),
    _obs("o5", hasMember=[{"reference": "Observation/o6"}]),
    _obs("o6", hasMember=[{"reference": "Observation/o7"}]),
    _obs("o7"),
]


def _included(result: Any) -> set[str]:
    return {f"{v.resource_type}/{v.id}" for v in result.included}


def test_include_revinclude_and_wildcards(repo: Repository) -> None:
    seed(repo, INCLUDED_WORLD)
    found = page(repo, "Encounter", "_include=Encounter:subject")
    assert _included(found) == {"Patient/p"}
    found = page(repo, "Encounter", "_include=Encounter:*")
    assert _included(found) == {"Patient/p", "Practitioner/dr"}
    found = page(repo, "Encounter", "_id=e1&_revinclude=Observation:encounter")
    assert _included(found) == {"Observation/o1", "Observation/o2"}
    found = page(repo, "Encounter", "_revinclude=Observation:encounter:Encounter")
    assert _included(found) == {"Observation/o1", "Observation/o2", "Observation/o3"}
    found = page(repo, "Observation", "_id=o1&_include=Observation:subject:Group")
    assert _included(found) == set()
    found = page(repo, "Patient", "_revinclude=*")
    assert {i for i in _included(found) if i.startswith("Encounter")} == {
        "Encounter/e1",
        "Encounter/e2",
    }


def test_include_iterate_and_its_depth_limit(repo: Repository) -> None:
    seed(repo, INCLUDED_WORLD)
    once = page(repo, "Observation", "_id=o4&_include=Observation:has-member")
    assert _included(once) == {"Observation/o5"}
    deep = page(repo, "Observation", "_id=o4&_include:iterate=Observation:has-member")
    assert _included(deep) == {"Observation/o5", "Observation/o6", "Observation/o7"}
    chained = page(
        repo,
        "Encounter",
        "_id=e1&_revinclude=Observation:encounter&_include:iterate=Observation:subject",
    )
    assert _included(chained) == {"Observation/o1", "Observation/o2", "Patient/p"}


@pytest.fixture
def shallow(services: RecordServices) -> Repository:
    import dataclasses

    from gateway.access.context import AccessContext
    from gateway.search import SearchLimits
    from gateway.storage.search import SqlSearch

    engine = services.search
    assert isinstance(engine, SqlSearch)
    limits = SearchLimits(max_iterate_depth=1, max_included_per_page=2)
    narrow = SqlSearch(engine.registry, engine.summaries, limits, blind=services.blind)
    return Repository(AccessContext.dev_open(), dataclasses.replace(services, search=narrow))


def test_include_limits_are_400_unless_lenient(shallow: Repository) -> None:
    seed(shallow, INCLUDED_WORLD)
    deep = "_id=o4&_include:iterate=Observation:has-member"
    with pytest.raises(BadRequest, match="deeper than 1") as caught:
        page(shallow, "Observation", deep)
    assert caught.value.expression == ("_include",)
    lenient = page(shallow, "Observation", deep, lenient=True)
    assert _included(lenient) == {"Observation/o5", "Observation/o6"}
    assert [i.gateway_code for i in lenient.issues] == ["GW-1104"]
    many = "_revinclude=Observation:encounter"
    with pytest.raises(BadRequest, match="more than 2") as caught:
        page(shallow, "Encounter", many)
    assert caught.value.expression == ("_revinclude",)
    assert len(page(shallow, "Encounter", many, lenient=True).included) == 2
