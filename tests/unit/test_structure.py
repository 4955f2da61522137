from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidResource
from gateway.fhir.resource_types import R4_ONLY_TYPES, RESOURCE_TYPES
from gateway.fhir.structure import validate_structure


def _issues(resource: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidResource) as err:
        validate_structure(resource)
    return [(i.code, i.expression[0]) for i in err.value.extra_issues]


def test_valid_patient_passes() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Martin"}]}
    assert validate_structure(patient) == "Patient"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "foo": 1}, ("structure", "Patient.foo")),
        ({"resourceType": "Patient", "birthDate": "1970-13-01"}, ("value", "Patient.birthDate")),
        ({"resourceType": "Patient", "name": {"family": "x"}}, ("value", "Patient.name")),
        ({"resourceType": "Observation", "status": "final"}, ("required", "Observation.code")),
        ({"resourceType": "Patient", "id": "a b"}, ("value", "Patient.id")),
        ({"resourceType": "Patient", "id": "x" * 65}, ("value", "Patient.id")),
        ({"resourceType": "Patient", "gender": ""}, ("value", "Patient.gender")),
        ({"resourceType": "Patient", "identifier": []}, ("structure", "Patient.identifier")),
        ({"resourceType": "Patient", "active": None}, ("structure", "Patient.active")),
        (
            {"resourceType": "Patient", "name": [{"given": ["Jean", None]}]},
            ("structure", "Patient.name[0].given[1]"),
        ),
        (
            {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": 5}]}},
            ("value", "Observation.code.coding[0].system"),
        ),
    ],
)
def test_each_defect_is_reported_where_it_is(
    resource: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in _issues(resource)


def test_null_padding_of_repeating_primitives_is_allowed() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"given": ["Jean", None], "_given": [None, {"id": "g2"}]}],
    }
    assert validate_structure(patient) == "Patient"


@pytest.mark.parametrize(
    "body", [[], "Patient", {"resourceType": "Nope"}, {"resourceType": 3}, {"id": "x"}]
)
def test_not_a_resource(body: Any) -> None:
    with pytest.raises(InvalidResource):
        validate_structure(body)


def test_unknown_contained_type_is_a_400_not_a_crash() -> None:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "contained": [{"resourceType": "Foo"}],
    }
    with pytest.raises(InvalidResource):
        validate_structure(resource)


def test_r4_only_types_are_exactly_those_missing_or_reshaped_in_r4b() -> None:
    from fhir.resources.R4B import get_fhir_model_class

    missing = set()
    for rtype in RESOURCE_TYPES:
        try:
            get_fhir_model_class(rtype)
        except (KeyError, ValueError, ImportError):
            missing.add(rtype)
    assert missing == R4_ONLY_TYPES - {"Evidence", "EvidenceVariable"}
    assert len(RESOURCE_TYPES) == 146


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["resourceType", "id", "name", "gender", "birthDate", "foo", "_gender"]),
        st.none() | st.text(max_size=5) | st.integers() | st.lists(st.text(max_size=3)),
        max_size=6,
    )
)
def test_random_shapes_give_a_400_or_pass(resource: dict[str, Any]) -> None:
    resource["resourceType"] = "Patient"
    try:
        validate_structure(resource)
    except InvalidResource as exc:
        assert exc.status == 400
