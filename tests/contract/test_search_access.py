"""The access seam of search: what ``visible()`` refuses is never matched, counted or included.

The policy here is a real implementation of the AccessPolicy seam that hides a chosen
set of resources (not a mock): the same path the DMP rules will take.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from gateway.access.context import AccessContext
from gateway.errors import BadRequest
from gateway.record.reader import RecordReader
from gateway.record.repository import Repository
from gateway.record.search import SearchExecutor
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage.search import Position
from tests.contract.searching import BASE, HidingPolicy, page, parse, seed, with_policy


def _obs(rid: str, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": "urn:c", "code": "x"}]},
        "subject": {"reference": "Patient/p"},
        **fields,
    }


WORLD: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p",
        "generalPractitioner": [{"reference": "Practitioner/d"}],
    },
    {"resourceType": "Practitioner", "id": "d"},
    {"resourceType": "Organization", "id": "org", "name": "Clinique"},
    {
        "resourceType": "Encounter",
        "id": "e",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": "Patient/p"},
        "serviceProvider": {"reference": "Organization/org"},
    },
    *[_obs(f"o{i}", encounter={"reference": "Encounter/e"}) for i in range(10)],
    {"resourceType": "List", "id": "l1", "status": "current", "mode": "working",
     "entry": [{"item": {"reference": "Observation/o3"}}]},
    {"resourceType": "List", "id": "l2", "status": "current", "mode": "working",
     "entry": [{"item": {"reference": "Observation/o4"}}]},
]  # fmt: skip
HIDDEN = frozenset(
    {"Observation/o1", "Observation/o2", "Observation/o5", "Organization/org", "List/l2"}
)


@pytest.fixture
def hidden(services: RecordServices) -> Repository:
    seed(Repository(AccessContext.dev_open(), services), WORLD)
    return with_policy(services, HidingPolicy(HIDDEN))


VISIBLE_OBS = [f"o{i}" for i in range(10) if f"Observation/o{i}" not in HIDDEN]


def test_pages_and_totals_count_only_visible_resources(hidden: Repository) -> None:
    seen: list[str] = []
    position: Position | None = None
    while True:
        result = page(hidden, "Observation", "_count=3&_total=accurate", position)
        assert result.total == len(VISIBLE_OBS)
        assert len(result.matches) == 3 or result.next is None
        seen += [v.id for v in result.matches]
        if result.next is None:
            break
        position = result.next
    assert seen == VISIBLE_OBS
    assert page(hidden, "Observation", "_count=100").total == len(VISIBLE_OBS)
    assert page(hidden, "Observation", "_summary=count").total == len(VISIBLE_OBS)
    assert page(hidden, "Observation", "_total=estimate&_count=1").total == len(VISIBLE_OBS)


def test_includes_never_return_hidden_resources(hidden: Repository) -> None:
    rev = page(hidden, "Encounter", "_revinclude=Observation:encounter&_include=Encounter:*")
    got = {f"{v.resource_type}/{v.id}" for v in rev.included}
    assert got == {f"Observation/{i}" for i in VISIBLE_OBS} | {"Patient/p"}
    assert not got & HIDDEN
    iterated = page(
        hidden,
        "Observation",
        "_id=o1,o3&_include=Observation:encounter&_include:iterate=Encounter:service-provider",
    )
    assert [v.id for v in iterated.matches] == ["o3"]
    assert {f"{v.resource_type}/{v.id}" for v in iterated.included} == {"Encounter/e"}


def test_everything_and_compartments_leave_hidden_resources_out(hidden: Repository) -> None:
    def get(path: str, query: str = "") -> dict[str, Any]:
        from urllib.parse import parse_qsl

        req = FhirRequest("GET", path.split("/"), query=parse_qsl(query), base=BASE)
        response = dispatch(req, hidden)
        assert response.status == 200
        result: dict[str, Any] = json.loads(response.body or b"{}")
        return result

    everything = get("Patient/p/$everything", "_count=100")
    listed = {e["fullUrl"].removeprefix(BASE + "/") for e in everything["entry"]}
    assert not listed & HIDDEN
    assert {f"Observation/{i}" for i in VISIBLE_OBS} <= listed
    assert "Practitioner/d" in listed
    compartment = get("Patient/p/Observation", "_total=accurate")
    assert compartment["total"] == len(VISIBLE_OBS)


def test_conditional_match_does_not_see_hidden_resources(hidden: Repository) -> None:
    with hidden.reading() as r:
        assert r.match("Observation", [("_id", "o1")], limit=2) == []
        assert [v.id for v in r.match("Observation", [("_id", "o3")], limit=2)] == ["o3"]


class NoListReader(RecordReader):
    """A reader whose caller may not search List resources (the access hook)."""

    def may_search_type(self, resource_type: str) -> bool:
        return resource_type != "List"


def test_links_over_a_forbidden_type_are_refused(services: RecordServices) -> None:
    repo = Repository(AccessContext.dev_open(), services)
    with services.store.reader() as tx:
        reader = NoListReader(AccessContext.dev_open(), services, tx)
        executor = SearchExecutor(reader, base=BASE)
        for query in ("_list=l1", "_has:List:item:code=x"):
            with pytest.raises(BadRequest) as caught:
                executor.page(parse(repo, "Observation", query))
            assert caught.value.code == "GW-1108"
            assert caught.value.expression == (query.split("=")[0],)
        assert executor.page(parse(repo, "Observation", "subject:Patient.name=x")).matches == []


def ids(result: Any) -> list[str]:
    return sorted(v.id for v in result.matches)


def test_chains_has_and_lists_only_look_through_visible_resources(hidden: Repository) -> None:
    """Not an oracle: a link criterion is never satisfied by a hidden resource."""
    assert ids(page(hidden, "Encounter", "_has:Observation:encounter:_id=o1")) == []
    assert ids(page(hidden, "Encounter", "_has:Observation:encounter:_id=o1,o3")) == ["e"]
    assert ids(page(hidden, "Encounter", "service-provider:Organization.name=Clinique")) == []
    assert ids(page(hidden, "Observation", "encounter:Encounter.status=finished")) == sorted(
        VISIBLE_OBS
    )
    assert ids(page(hidden, "Observation", "_list=l2")) == []
    assert ids(page(hidden, "Observation", "_list=l1,l2")) == ["o3"]
    assert page(hidden, "Encounter", "_has:Observation:encounter:_id=o1&_total=accurate").total == 0
    with hidden.reading() as r:
        assert r.match("Encounter", [("_has:Observation:encounter:_id", "o2")], limit=2) == []


def test_a_link_that_examines_too_many_resources_is_a_400(
    hidden: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = dataclasses.replace(hidden.services.search.limits, max_link_candidates=5)
    monkeypatch.setattr(hidden.services.search, "limits", limits)
    assert ids(page(hidden, "Encounter", "_has:Observation:encounter:_id=o3,o4")) == ["e"]
    with pytest.raises(BadRequest) as caught:
        page(hidden, "Encounter", "_has:Observation:encounter:code=x")
    assert caught.value.code == "GW-1104"
    assert caught.value.expression == ("_has:Observation:encounter:code",)
