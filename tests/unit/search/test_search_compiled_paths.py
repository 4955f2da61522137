"""Compiled expressions agree with fhirpathpy, for every served parameter of every type.

For each resource type we generate one example with every element filled in (every
choice type at once, every backbone element, typed sample values) and compare, for
every served compiled parameter, the values the compiled getters find with the values
``fhirpathpy`` finds for the published expression. ``resolve()`` is not implemented by
fhirpathpy, so those expressions are checked with the filter removed and the
``resolve() is T`` semantics are tested in test_search_extract.py; neither is
``hasExtension()`` (one parameter, QuestionnaireResponse-subject... tested there too).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.models import models

from gateway.search import SearchRegistry, extract
from gateway.search.compiler import DYNAMIC, Getter, compile_expression
from gateway.search.elements import PRIMITIVES, ElementTypes

SAMPLES: dict[str, Any] = {
    "boolean": True,
    "integer": 3,
    "positiveInt": 2,
    "unsignedInt": 0,
    "decimal": Decimal("1.50"),
    "string": "Hélène Dupont",
    "markdown": "Some *text*",
    "code": "c1",
    "id": "id1",
    "uri": "http://example.org/uri",
    "url": "http://example.org/url",
    "canonical": "http://example.org/fhir/Questionnaire/q1|2.0",
    "oid": "urn:oid:1.2.3",
    "uuid": "urn:uuid:6b9f0bb3-7a41-4a32-9e3c-2b0e8a3f4d11",
    "date": "2020-03",
    "dateTime": "2020-03-29T02:30:00+01:00",
    "instant": "2020-03-29T01:30:00.123Z",
    "time": "10:00:00",
    "base64Binary": "AAAA",
    "xhtml": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
}
CODING = {"system": "http://example.org/cs", "code": "c1", "display": "Déjà vu"}
FIXED: dict[str, Any] = {
    "Reference": {
        "reference": "Patient/p1",
        "identifier": {"system": "urn:oid:1.2.3", "value": "v1"},
        "display": "P",
    },
    "Coding": CODING,
    "CodeableConcept": {"coding": [CODING], "text": "Un texte"},
    "Identifier": {
        "system": "urn:oid:1.2.3",
        "value": "v1",
        "type": {"coding": [{"system": "http://example.org/v2", "code": "MR"}]},
    },
    "HumanName": {"family": "Dupont", "given": ["Hélène", "Marie"], "prefix": ["Mme"]},
    "Address": {
        "use": "home",
        "line": ["1 rue de la Paix"],
        "city": "Paris",
        "postalCode": "75002",
        "state": "IDF",
        "country": "FR",
    },
    "ContactPoint": {"system": "phone", "value": "+33102030405"},
    "Period": {"start": "2020-01-01", "end": "2020-02"},
    "Timing": {"event": ["2020-01-05"], "repeat": {"boundsPeriod": {"start": "2020-01-01"}}},
    "Range": {"low": {"value": Decimal("1.0"), "unit": "mg"}, "high": {"value": Decimal("2.0")}},
    "Money": {"value": Decimal("12.30"), "currency": "EUR"},
    "Narrative": {"status": "generated", "div": SAMPLES["xhtml"]},
    "Extension": {"url": "http://example.org/ext", "valueString": "x"},
    "Resource": {"resourceType": "Patient", "id": "c1"},
    "SampledData": {"origin": {"value": Decimal(0)}, "period": Decimal(1), "dimensions": 1},
}
QUANTITY = {
    "value": Decimal("5.0"),
    "unit": "mg",
    "system": "http://unitsofmeasure.org",
    "code": "mg",
}
for _q in ("Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"):
    FIXED[_q] = QUANTITY


def _children(elements: ElementTypes, context: str) -> list[str]:
    return sorted(elements.element_names(context) - {"id", "extension", "modifierExtension"})


def make_example(
    elements: ElementTypes, context: str, variant: int = 0, depth: int = 0
) -> dict[str, Any]:
    """Every element of ``context``; a choice element takes its ``variant``-th type."""
    out: dict[str, Any] = {}
    for name in _children(elements, context):
        children = elements.children(context, name) or []
        if len(children) > 1:
            children = [children[variant % len(children)]]
        for child in children:
            value = _value(elements, child.type, child.context, variant, depth)
            if value is not None:
                out[child.key] = value
    return out


def _value(elements: ElementTypes, type_: str, context: str, variant: int, depth: int) -> Any:
    if type_ in SAMPLES:
        return SAMPLES[type_]
    if type_ in FIXED:
        return FIXED[type_]
    if depth >= 4 or type_ in PRIMITIVES:
        return None
    return make_example(elements, context, variant, depth + 1) or None


_RESOLVE = re.compile(r"\.where\(resolve\(\) is [A-Za-z]+\)")


def _canon(values: list[Any]) -> set[str]:
    # FHIRPath's union ``|`` removes duplicates; extraction de-duplicates rows instead.
    return {json.dumps(v, sort_keys=True, default=str) for v in values}


def _resource_types(registry: SearchRegistry) -> list[str]:
    return sorted(registry.resource_types)


# Enough variants to give every choice element each of its types at least once
# (Observation.value[x] has 11); fhirpathpy is slow, so it checks the first three only.
VARIANTS = 12
CHECKED_VARIANTS = 3


@pytest.fixture(scope="module")
def examples(registry: SearchRegistry) -> list[tuple[str, int, dict[str, Any]]]:
    out = []
    for rtype in _resource_types(registry):
        for variant in range(VARIANTS):
            example = make_example(registry.elements, rtype, variant)
            example["resourceType"] = rtype
            example["id"] = "ex1"
            example["meta"] = {
                "lastUpdated": "2024-03-31T02:30:00+02:00",
                "profile": ["http://example.org/fhir/StructureDefinition/p"],
                "tag": [CODING],
                "security": [CODING],
                "source": "http://example.org/source",
            }
            out.append((rtype, variant, example))
    return out


def test_every_served_parameter_compiles_except_the_hand_compiled_one(
    registry: SearchRegistry,
) -> None:
    stats = registry.stats()
    assert stats.definitions == 1400 + 5
    assert stats.fallback == 0
    assert stats.hand_compiled == 1  # Patient-deceased


def test_compiled_getters_agree_with_fhirpathpy(
    registry: SearchRegistry, examples: list[tuple[str, int, dict[str, Any]]]
) -> None:
    model = models["r4"]
    compiled: dict[str, Any] = {}
    compared = 0
    mismatches = []
    for rtype, variant, example in examples:
        if variant >= CHECKED_VARIANTS:
            continue
        for param in registry.served(rtype):
            expression = param.definition.expression
            if expression is None or not all(
                isinstance(e.getter, Getter) for e in param.extractors
            ):
                continue
            expression = _RESOLVE.sub("", expression)
            if "hasExtension" in expression or expression.startswith(
                ("Resource.", "DomainResource.")
            ):
                continue  # not implemented by fhirpathpy; tested in test_search_extract.py
            getters = compile_expression(expression, rtype, registry.elements)
            if any(g.type == DYNAMIC for g in getters):
                continue  # typed per value at run time; covered by the extension tests
            mine = [v for g in getters for v in g.values(example)]
            if expression not in compiled:
                compiled[expression] = fhirpathpy.compile(expression, model)
            theirs = compiled[expression](example, {})
            compared += 1
            if _canon(mine) != _canon(theirs):
                mismatches.append((rtype, param.code, expression, _canon(mine), _canon(theirs)))
    assert compared > 2400
    assert mismatches == []


def test_every_served_parameter_indexes_the_full_example(
    registry: SearchRegistry, examples: list[tuple[str, int, dict[str, Any]]]
) -> None:
    """Each served parameter yields rows from some example with every element present,
    except where the expression filters on something the examples do not carry."""
    produced: dict[str, set[str]] = {}
    for rtype, _variant, example in examples:
        rows = extract(example, registry)
        produced.setdefault(rtype, set()).update(
            r.param
            for lst in (
                rows.tokens,
                rows.strings,
                rows.dates,
                rows.references,
                rows.quantities,
                rows.numbers,
                rows.uris,
            )
            for r in lst
        )
    silent = [
        f"{rtype}.{p.code}: {p.definition.expression}"
        for rtype in produced
        for p in registry.served(rtype)
        if p.code not in produced[rtype]
    ]
    unexplained = [s for s in silent if not re.search(r"where\(|extension\(", s)]
    assert sum(len(registry.served(t)) for t in produced) > 2400
    assert unexplained == []
