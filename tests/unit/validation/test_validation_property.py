"""No input makes the validator raise, or fail inside: it always returns issues.

``validate`` catches anything unexpected and reports it as an ``exception`` issue, so the
properties also assert that no such issue appears: a crash hidden by the safety net would
still fail here. Inputs are real resources (FR Core and gateway examples) with random
mutations at random places, and random JSON shaped like FHIR.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import Issue, operation_outcome
from gateway.validation import BundleContext, Validator

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "validation"
SEEDS = [
    json.loads(p.read_text(encoding="utf-8"))
    for folder in ("fr-core-examples", "gateway-examples")
    for p in sorted((FIXTURES / folder).glob("*.json"))
] + [
    json.loads((FIXTURES / "pdsm4dmp" / "Bundle-example-td2-iti65-lot-soumission.json").read_text())
]

RESOURCE_TYPES = ["Patient", "Observation", "Bundle", "Extension", "Nothing", "", "Condition"]
KEYS = st.sampled_from(
    [
        "resourceType",
        "id",
        "extension",
        "url",
        "value",
        "valueQuantity",
        "_birthDate",
        "code",
        "coding",
        "system",
        "reference",
        "identifier",
        "meta",
        "profile",
        "contained",
        "entry",
        "resource",
        "text",
        "div",
        "period",
        "start",
        "end",
        "category",
        "component",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "#",
            "#x",
            "urn:uuid:1",
            "Patient/1",
            "2020-13-45",
            "<div>",
            "http://loinc.org",
            "urn:oid:1.2.250.1.213.1.4.8",
            "2A",
            "true",
            "<!DOCTYPE x>",
            "VALI",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _mutate(resource: dict[str, Any], path: tuple[Any, ...], action: int, new: Any) -> Any:
    if not path:
        return new if action == 0 else resource
    parent: Any = resource
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == 0:
        parent[last] = new
    elif action == 1:
        del parent[last]
    elif action == 2 and isinstance(parent, dict):
        parent["_" + str(last)] = new
    elif action == 3:
        parent[last] = [parent[last], new]
    else:
        parent[last] = {"extension": [new], "value": parent[last]}
    return resource


def _check(issues: list[Issue]) -> None:
    assert isinstance(issues, list)
    assert all(isinstance(i, Issue) for i in issues)
    crashed = [i.diagnostics for i in issues if i.code == "exception"]
    assert not crashed, crashed
    assert operation_outcome(issues)["resourceType"] == "OperationOutcome"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    data=st.data(),
    action=st.integers(min_value=0, max_value=4),
    new=JSON,
)
def test_mutated_resources_never_crash(
    validator: Validator, seed: dict[str, Any], data: st.DataObject, action: int, new: Any
) -> None:
    resource = copy.deepcopy(seed)
    paths = _paths(resource)
    path = data.draw(st.sampled_from(paths))
    mutated = _mutate(resource, path, action, new)
    _check(validator.validate(mutated))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rtype=st.sampled_from(RESOURCE_TYPES),
    body=st.dictionaries(KEYS, JSON, max_size=8),
    profiles=st.lists(
        st.sampled_from(["", "x", "https://dmp-gateway.fr/fhir/StructureDefinition/gw-consent"]),
        max_size=2,
    ),
)
def test_random_fhir_shaped_json_never_crashes(
    validator: Validator, rtype: str, body: dict[str, Any], profiles: list[str]
) -> None:
    resource = {**body, "resourceType": rtype}
    _check(validator.validate(resource, profiles))
    _check(validator.validate(resource, bundle=BundleContext.from_bundle(resource)))


@given(value=JSON)
@settings(max_examples=200, deadline=None)
def test_any_json_value_never_crashes(validator: Validator, value: Any) -> None:
    _check(validator.validate(value))


def test_non_finite_numbers_are_reported(validator: Validator) -> None:
    issues = validator.validate(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueQuantity": {"value": math.inf},
        }
    )
    assert [(i.code, i.expression) for i in issues if i.is_error] == [
        ("value", ("Observation.value.ofType(Quantity).value",))
    ]
