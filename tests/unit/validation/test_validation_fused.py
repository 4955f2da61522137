"""Fused invariant forms (:mod:`gateway.validation.fhirpath_fused`) against the general
evaluator: wherever a decider answers, it gives the general verdict; where the general
evaluator would defer to fhirpathpy, the decider does not answer."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.validation.fhirpath import Env, Expression, Unsupported, compile_expression, parse
from gateway.validation.fhirpath_fused import Decider, compile_condition
from gateway.validation.invariants import _verdict

CHOICES = frozenset({"value", "effective"})
TYPES = frozenset({"Quantity", "String", "Boolean"})

#: the forms the FR Core and base invariants on Observation, DiagnosticReport, Provenance
#: and Patient use most, and each operator the deciders implement
EXPRESSIONS = [
    "code.empty() or system.exists()",  # qty-3
    "extension.exists() != value.exists()",  # ext-1
    "value.exists() or dataAbsentReason.exists()",  # vs-3
    "(component.empty() and hasMember.empty()) implies (dataAbsentReason.exists() or value.exists())",  # vs-2  # noqa: E501
    "dataAbsentReason.empty() or value.empty()",  # obs-6
    "value.empty() or code.where(coding.exists()).exists()",  # a general right-hand side
    "code.exists() xor system.empty()",
    "code.exists() = effective.exists()",
    "code.empty() and (system = 'x')",
    "code.exists() implies system.count() = 1",
    "comparator.empty()",
]

_NAMES = ["code", "system", "extension", "dataAbsentReason", "component", "hasMember"]
_KEYS = [
    *_NAMES,
    *("_" + n for n in _NAMES),
    "value",
    "valueQuantity",
    "valueString",
    "_value",
    "_valueString",
    "valueZz",
    "effectiveBoolean",
    "other",
]
_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [None, "x", True, 0, [], [None], ["a"], ["a", None], {}, {"coding": [{}]}, {"a": 1}]
)
_NODES = st.one_of(
    st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=5),
    _VALUES,
)


@functools.cache
def _compiled(expression: str) -> Expression:
    return compile_expression(expression, CHOICES, TYPES)


@functools.cache
def _decider(expression: str) -> Decider | None:
    return compile_condition(parse(expression), CHOICES, TYPES)


def _general(expression: str, node: Any) -> object:
    run = _compiled(expression)
    try:
        return _verdict(run(node, Env(node, node, node)))
    except Unsupported:
        return "unsupported"


@pytest.mark.parametrize("expression", EXPRESSIONS)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(node=_NODES)
def test_a_decided_answer_is_the_general_verdict(expression: str, node: Any) -> None:
    decide = _decider(expression)
    assert decide is not None
    decided = decide(node)
    if decided is not None:
        assert decided is _general(expression, node)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"url": "u", "valueString": "x"}, True),
        ({"url": "u", "valueString": "x", "extension": [{}]}, None),  # an array: general
        ({"url": "u"}, False),
        ({"url": "u", "_valueString": {"id": "a"}}, False),  # as the member lookup sees it
        ({"url": "u", "_value": {"id": "a"}}, None),  # only the extension part: general
        ({"valueQuantity": None}, None),
        ("text", None),
    ],
)
def test_ext_1(node: Any, expected: bool | None) -> None:
    decide = compile_condition(parse("extension.exists() != value.exists()"), CHOICES, TYPES)
    assert decide is not None
    assert decide(node) is expected
    if expected is not None:
        assert _general("extension.exists() != value.exists()", node) is expected


@pytest.mark.parametrize(
    "expression",
    ["code.where(system.exists()).exists()", "Quantity.exists()", "(code).exists()", "active"],
)
def test_forms_without_a_presence_term_are_not_fused(expression: str) -> None:
    assert compile_condition(parse(expression), CHOICES, TYPES) is None
