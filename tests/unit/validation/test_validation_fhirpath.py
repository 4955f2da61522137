"""The fast FHIRPath evaluator: FHIRPath semantics, and agreement with fhirpathpy.

The fast evaluator either returns FHIRPath's answer or raises ``Unsupported`` (and the
caller falls back to fhirpathpy). The differential test runs every resource-level invariant
we hold on every resource of the fixtures with both engines, and requires the same answer
wherever both give one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.models import models

from gateway.validation import Validator
from gateway.validation.fhirpath import Env, Unsupported, compile_expression
from gateway.validation.fhirpath_values import compare_temporal
from gateway.validation.invariants import InvariantCompiler

CHOICES = frozenset({"value", "effective", "deceased", "onset"})
TYPES = frozenset({"Quantity", "String", "DateTime", "CodeableConcept", "Boolean", "Period"})
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "validation"


def evaluate(expression: str, node: Any, context_type: str | None = None) -> list[Any]:
    env = Env(node, node, node, context_type)
    return compile_expression(expression, CHOICES, TYPES)(node, env)


OBS = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
    "valueQuantity": {"value": 36.5, "system": "http://unitsofmeasure.org", "code": "Cel"},
    "component": [
        {"code": {"coding": [{"system": "s", "code": "a"}]}},
        {"code": {"coding": [{"system": "s", "code": "b"}]}},
    ],
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("value.exists()", [True]),
        ("value.code", ["Cel"]),
        ("dataAbsentReason.empty() or value.empty()", [True]),
        ("Observation.status = 'final'", [True]),
        ("status = 'x' or status = 'final'", [True]),
        ("component.code.coding.code", ["a", "b"]),
        ("component.where(code.coding.code = 'b').count()", [1]),
        ("component.all(code.exists())", [True]),
        ("component.code.coding.code.isDistinct()", [True]),
        ("code.coding.exists(code = '8310-5')", [True]),
        ("missing = 'x'", []),
        ("missing.empty() implies status = 'x'", [False]),
        ("missing.exists() implies status = 'x'", [True]),
        ("{} or true", [True]),
        ("{} and false", [False]),
        ("{} and true", []),
        ("true xor false", [True]),
        ("status in ('final' | 'amended')", [True]),
        ("('a' | 'b' | 'a').count()", [2]),
        ("status.startsWith('fi') and status.matches('^f.n')", [True]),
        ("status.substring(1, 2) & '!'", ["in!"]),
        ("iif(status = 'final', 'yes', 'no')", ["yes"]),
        ("status.length() + 1", [6]),
        ("value.value > 36", [True]),
        ("-1 < 0", [True]),
        ("value.code.hasValue() and value.hasValue().not()", [True]),
        ("component.code.coding.code.first() & component.code.coding.code.tail().first()", ["ab"]),
        ("code.coding.intersect(%resource.code.coding).count()", [1]),
    ],
)
def test_semantics(expression: str, expected: list[Any]) -> None:
    assert evaluate(expression, OBS) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("2020-01-01", "2020-01-02", -1),
        ("2020-01", "2020-01-05", None),
        ("2020-02", "2020-01-05", 1),
        ("2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00", 0),
        ("2020-01-01T10:00:00.5+02:00", "2020-01-01T10:00:00+02:00", 1),
        ("2021", "2020-12-31", 1),
    ],
)
def test_temporal_comparison(a: str, b: str, expected: int | None) -> None:
    assert compare_temporal(a, b) == expected


@pytest.mark.parametrize(
    ("expression", "node"),
    [
        ("start <= end", {"start": "2020-01-01", "end": "2020-01-01T10:00:00Z"}),
        ("a = b", {"a": "2020-01", "b": "2020-01-01"}),
        ("low <= high", {"low": {"value": 1, "code": "mg"}, "high": {"value": 1, "code": "g"}}),
        ("resolve().exists()", {}),
        ("birthDate.extension.exists()", {"_birthDate": {"extension": []}}),
        ("x is Quantity", {"x": {"value": 1}}),
    ],
)
def test_undecidable_cases_defer_to_fhirpathpy(expression: str, node: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        evaluate(expression, node)


@pytest.mark.parametrize("function", ["exists", "empty"])
@pytest.mark.parametrize(
    "node",
    [
        {"code": "x"},
        {},
        {"code": None},
        {"code": []},
        {"code": [None]},
        {"code": ["a", None]},
        {"code": {"text": "t"}},
        {"_code": {"extension": []}},
        {"code": "x", "_code": {"id": "a"}},
        {"codeString": "x"},
    ],
)
def test_fused_presence_agrees_with_the_general_evaluation(
    function: str, node: dict[str, Any]
) -> None:
    """``name.exists()``/``name.empty()`` take a fused path (see ``_Compiler.presence``):
    same answer as the same function applied to the parenthesised member, which is not
    fused, and the same deferral to fhirpathpy."""
    outcomes: list[object] = []
    for expression in (f"code.{function}()", f"(code).{function}()"):
        try:
            outcomes.append(evaluate(expression, node))
        except Unsupported:
            outcomes.append("unsupported")
    assert outcomes[0] == outcomes[1]
    fused = compile_expression(f"code.{function}()", CHOICES, TYPES)
    general = compile_expression(f"(code).{function}()", CHOICES, TYPES)
    for context in ("x", [node]):  # not an object: the general path
        env = Env(node, node, node)
        assert fused(context, env) == general(context, env)


def test_type_of_the_context_is_known() -> None:
    assert evaluate(
        "$this is dateTime implies $this.toString().length() >= 10", "2020-01", "dateTime"
    ) == [False]
    assert evaluate(
        "$this is dateTime implies $this.toString().length() >= 10", "2020-01-02", "dateTime"
    ) == [True]


def _resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("resourceType") in ("StructureDefinition", None):
            continue
        out.append(data)
        for entry in data.get("entry", []) if data.get("resourceType") == "Bundle" else []:
            if isinstance(entry.get("resource"), dict):
                out.append(entry["resource"])
    return out


@pytest.mark.slow
def test_agrees_with_fhirpathpy_on_every_resource_invariant(validator: Validator) -> None:
    registry = validator.registry
    names = registry.invariants
    compared = 0
    for resource in _resources():
        profile = registry.profile(
            f"http://hl7.org/fhir/StructureDefinition/{resource['resourceType']}"
        )
        assert profile is not None
        for inv in profile.root.invariants:
            env = Env(resource, resource, resource)
            try:
                fast = compile_expression(inv.expression, names.choice_names, names.type_names)
                mine = fast(resource, env)
            except Unsupported:
                continue
            try:
                reference = fhirpathpy.evaluate(
                    resource,
                    inv.expression,
                    {"resource": resource, "rootResource": resource},
                    models["r4"],
                )
            except Exception:  # noqa: S112 - fhirpathpy cannot evaluate it: nothing to compare
                continue
            assert mine == reference, (resource.get("id"), inv.key, inv.expression)
            compared += 1
    assert compared > 300


@pytest.mark.parametrize(
    ("resource", "holds"),
    [
        (
            {
                "resourceType": "Patient",
                "contained": [{"resourceType": "Organization", "id": "o"}],
                "managingOrganization": {"reference": "#o"},
            },
            True,
        ),
        (
            {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o"}]},
            False,
        ),
        (
            {
                "resourceType": "Patient",
                "contained": [
                    {"resourceType": "Organization", "id": "o", "partOf": {"reference": "#"}}
                ],
            },
            True,
        ),
    ],
)
def test_native_dom3_matches_its_definition(
    validator: Validator, resource: dict[str, Any], holds: bool
) -> None:
    inv = next(
        i
        for i in validator.registry.profile(
            "http://hl7.org/fhir/StructureDefinition/Patient"
        ).root.invariants  # type: ignore[union-attr]
        if i.key == "dom-3"
    )
    assert inv.check(resource, Env(resource, resource, resource)) is holds


def test_invariant_compiler_shares_checks() -> None:
    compiler = InvariantCompiler(CHOICES, TYPES)
    constraint = {"key": "x-1", "severity": "error", "human": "h", "expression": "a.exists()"}
    first, second = compiler.compile(constraint), compiler.compile(dict(constraint))
    assert first is second
    assert first is not None
    assert first.guard is not None
    assert first.guard.absent is False
    assert (
        compiler.compile(
            {"key": "ele-1", "expression": "hasValue() or (children().count() > id.count())"}
        )
        is None
    )
