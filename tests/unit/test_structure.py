from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidResource
from gateway.fhir.structure import validate_json_form


def _issues(resource: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidResource) as err:
        validate_json_form(resource)
    return [(i.code, i.expression[0]) for i in err.value.extra_issues]


def test_valid_patient_passes() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Martin"}]}
    assert validate_json_form(patient) == "Patient"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "id": "a b"}, ("value", "Patient.id")),
        ({"resourceType": "Patient", "id": "x" * 65}, ("value", "Patient.id")),
        ({"resourceType": "Patient", "gender": ""}, ("value", "Patient.gender")),
        ({"resourceType": "Patient", "identifier": []}, ("structure", "Patient.identifier")),
        ({"resourceType": "Patient", "active": None}, ("structure", "Patient.active")),
        ({"resourceType": "Patient", "meta": {}}, ("structure", "Patient.meta")),
        (
            {"resourceType": "Patient", "name": [{"given": ["Jean", None]}]},
            ("structure", "Patient.name[0].given[1]"),
        ),
    ],
)
def test_each_defect_of_json_form_is_reported_where_it_is(
    resource: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in _issues(resource)


def test_element_structure_is_left_to_the_definitions() -> None:
    """Unknown elements and wrong types are the StructureDefinition walk's job
    (tests/unit/validation/test_validation_structural.py), not this cheap first pass."""
    assert validate_json_form({"resourceType": "Patient", "foo": 1}) == "Patient"


def test_null_padding_of_repeating_primitives_is_allowed() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"given": ["Jean", None], "_given": [None, {"id": "g2"}]}],
    }
    assert validate_json_form(patient) == "Patient"


@pytest.mark.parametrize(
    "body", [[], "Patient", {"resourceType": "Nope"}, {"resourceType": 3}, {"id": "x"}]
)
def test_not_a_resource(body: Any) -> None:
    with pytest.raises(InvalidResource):
        validate_json_form(body)


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
        validate_json_form(resource)
    except InvalidResource as exc:
        assert exc.status == 400
