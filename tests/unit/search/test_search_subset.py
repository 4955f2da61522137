"""``_summary``/``_elements`` subsets, the summary map, and the small pure helpers of
SQL compilation (prefix bounds, uri ancestors, cursor positions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.search.subset import SUBSETTED, needs_subset, subset
from gateway.search.summary import FILE, SummaryElements, build_summary_map
from gateway.storage.search import Position
from gateway.storage.search.strings import successor, uri_above

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def table() -> SummaryElements:
    return SummaryElements.load(ROOT / "profiles" / "search-parameters" / FILE)


OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o",
    "meta": {"versionId": "1", "tag": [{"system": "urn:t", "code": "x"}]},
    "text": {"status": "generated", "div": "<div/>"},
    "status": "final",
    "_status": {"extension": [{"url": "urn:e", "valueString": "s"}]},
    "category": [{"text": "lab"}],
    "code": {"text": "x"},
    "effectiveDateTime": "2020",
    "valueQuantity": {"value": 1},
    "interpretation": [{"text": "high"}],
    "note": [{"text": "n"}],
}


def test_summary_true_keeps_summary_elements_and_tags(table: SummaryElements) -> None:
    out = subset(OBSERVATION, table, summary="true")
    assert set(out) == {
        "resourceType",
        "id",
        "meta",
        "status",
        "_status",
        "code",
        "effectiveDateTime",
        "valueQuantity",
    }
    assert out["meta"]["tag"] == [{"system": "urn:t", "code": "x"}, SUBSETTED]
    assert OBSERVATION["meta"]["tag"] == [{"system": "urn:t", "code": "x"}]  # not changed


def test_summary_text_data_and_elements(table: SummaryElements) -> None:
    assert set(subset(OBSERVATION, table, summary="text")) == {
        "resourceType",
        "id",
        "meta",
        "text",
        "status",
        "_status",
        "code",
    }
    data = subset(OBSERVATION, table, summary="data")
    assert "text" not in data and "note" in data and SUBSETTED in data["meta"]["tag"]
    elements = subset(OBSERVATION, table, summary=None, elements=("value", "note"))
    assert set(elements) == {
        "resourceType",
        "id",
        "meta",
        "valueQuantity",
        "note",
        "status",
        "_status",
        "code",
    }
    assert subset(OBSERVATION, table, summary=None) is OBSERVATION
    assert subset(OBSERVATION, table, summary="false") is OBSERVATION
    twice = subset(subset(OBSERVATION, table, summary="data"), table, summary="data")
    assert twice["meta"]["tag"].count(SUBSETTED) == 1


def test_needs_subset() -> None:
    assert not needs_subset(None, ())
    assert not needs_subset("count", ())
    assert not needs_subset("false", ())
    assert needs_subset("true", ())
    assert needs_subset(None, ("name",))


def test_summary_map_from_structure_definitions() -> None:
    sd = {
        "resourceType": "StructureDefinition",
        "kind": "resource",
        "type": "Thing",
        "snapshot": {
            "element": [
                {"path": "Thing"},
                {"path": "Thing.id", "isSummary": True, "min": 0},
                {"path": "Thing.value[x]", "isSummary": True, "min": 1},
                {"path": "Thing.part.detail", "isSummary": True, "min": 1},
                {"path": "Thing.note", "min": 0},
            ]
        },
    }
    profile = {**sd, "derivation": "constraint", "type": "Other"}
    built = build_summary_map([sd, profile])
    assert built == {
        "types": {
            "Thing": {
                "summary": ["id", "value[x]"],
                "mandatory": ["value[x]"],
                "choices": ["value"],
            }
        }
    }
    loaded = json.loads((ROOT / "profiles" / "search-parameters" / FILE).read_text())
    assert {"name", "birthDate", "gender"} <= set(loaded["types"]["Patient"]["summary"])
    assert SummaryElements({}).of("Unknown").summary == frozenset({"id", "meta"})


@given(st.text(max_size=8))
def test_successor_bounds_every_extension(prefix: str) -> None:
    upper = successor(prefix)
    if upper is None:
        assert prefix == "" or set(prefix) == {"\U0010ffff"}
        return
    assert upper > prefix
    for tail in ("", "a", "\U0010ffff", "zz"):
        assert prefix + tail < upper


def test_uri_above_cuts_at_each_slash() -> None:
    assert uri_above("http://acme.org/fhir/ValueSet/1") == [
        "http://acme.org/fhir/ValueSet/1",
        "http://acme.org/fhir/ValueSet/",
        "http://acme.org/fhir/ValueSet",
        "http://acme.org/fhir/",
        "http://acme.org/fhir",
        "http://acme.org/",
        "http://acme.org",
    ]
    assert uri_above("urn:oid:1.2.3") == ["urn:oid:1.2.3"]


@given(
    st.dictionaries(
        st.text(max_size=3),
        st.recursive(st.none() | st.integers() | st.text(max_size=4), st.lists, max_leaves=4),
        max_size=4,
    )
)
def test_position_from_json_never_crashes(data: dict[str, Any]) -> None:
    try:
        position = Position.from_json(data)
    except ValueError:
        return
    assert Position.from_json(position.to_json()) == position


def test_position_round_trip() -> None:
    position = Position((1, 2.5, "a", None), 42, True)
    assert Position.from_json(json.loads(json.dumps(position.to_json()))) == position
