"""ValueSet expansion from local CodeSystems, and membership verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.validation import Validator
from gateway.validation.package import ConformanceIndex
from gateway.validation.terminology import Membership, Terminology

CS = "https://example.org/cs"


def _code_system(content: str = "complete") -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "url": CS,
        "content": content,
        "concept": [
            {
                "code": "animal",
                "concept": [
                    {"code": "dog", "property": [{"code": "legs", "valueInteger": 4}]},
                    {"code": "bird", "property": [{"code": "legs", "valueInteger": 2}]},
                ],
            },
            {"code": "plant", "property": [{"code": "parent", "valueCode": "thing"}]},
            {"code": "thing"},
        ],
    }


def _terminology(
    *includes: dict[str, Any], exclude: list[dict[str, Any]] | None = None
) -> Terminology:
    vs = {
        "resourceType": "ValueSet",
        "url": "https://example.org/vs",
        "compose": {"include": list(includes), "exclude": exclude or []},
    }
    return Terminology(ConformanceIndex.of([_code_system(), vs]))


def _codes(t: Terminology) -> set[str]:
    expansion = t.expansion("https://example.org/vs")
    assert expansion is not None
    return set(expansion.codes.get(CS, set()))


def test_whole_system_and_nesting() -> None:
    assert _codes(_terminology({"system": CS})) == {"animal", "dog", "bird", "plant", "thing"}


def test_is_a_follows_nesting_and_parent_properties() -> None:
    is_a = {"system": CS, "filter": [{"property": "concept", "op": "is-a", "value": "animal"}]}
    assert _codes(_terminology(is_a)) == {"animal", "dog", "bird"}
    under = {
        "system": CS,
        "filter": [{"property": "concept", "op": "descendent-of", "value": "thing"}],
    }
    assert _codes(_terminology(under)) == {"plant"}


def test_equals_filter_on_a_property() -> None:
    legs = {"system": CS, "filter": [{"property": "legs", "op": "=", "value": "4"}]}
    assert _codes(_terminology(legs)) == {"dog"}


def test_listed_concepts_and_exclude() -> None:
    listed = {"system": CS, "concept": [{"code": "dog"}, {"code": "bird"}]}
    assert _codes(
        _terminology(listed, exclude=[{"system": CS, "concept": [{"code": "bird"}]}])
    ) == {"dog"}


def test_membership_verdicts() -> None:
    t = _terminology(
        {"system": CS, "concept": [{"code": "dog"}]}, {"system": "https://example.org/unheld"}
    )
    expansion = t.expansion("https://example.org/vs")
    assert expansion is not None
    assert expansion.check(CS, "dog")[0] is Membership.IN
    assert expansion.check(CS, "cat")[0] is Membership.OUT
    verdict, why = expansion.check("https://example.org/unheld", "x")
    assert verdict is Membership.UNKNOWN
    assert "https://example.org/unheld" in why
    assert expansion.check("https://example.org/other", "x")[0] is Membership.OUT
    assert expansion.check(None, "dog")[0] is Membership.IN
    assert expansion.check(None, "cat")[0] is Membership.UNKNOWN


def test_unsupported_filter_leaves_the_system_open() -> None:
    regex = {"system": CS, "filter": [{"property": "concept", "op": "regex", "value": "d.*"}]}
    expansion = _terminology(regex).expansion("https://example.org/vs")
    assert expansion is not None
    assert expansion.check(CS, "dog")[0] is Membership.UNKNOWN


def test_unknown_value_set() -> None:
    assert _terminology().expansion("https://example.org/nothing") is None


@pytest.mark.parametrize(
    ("content_type", "errors"),
    [("application/pdf", 0), ("text/plain; charset=UTF-8", 0), ("pdf", 1)],
)
def test_grammar_checked_systems(validator: Validator, content_type: str, errors: int) -> None:
    binary = {"resourceType": "Binary", "contentType": content_type}
    issues = validator.validate(binary)
    assert len([i for i in issues if i.is_error]) == errors
    assert not [i for i in issues if i.code == "not-found"]


def test_code_system_not_held_is_a_warning_naming_it(validator: Validator) -> None:
    slot: dict[str, Any] = {
        "resourceType": "Slot",
        "schedule": {"reference": "Schedule/1"},
        "status": "free",
        "start": "2026-03-02T10:00:00+01:00",
        "end": "2026-03-02T10:30:00+01:00",
        "specialty": [{"coding": [{"system": "https://example.org/specialties", "code": "x"}]}],
        "meta": {"profile": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-slot"]},
    }
    issues = [i for i in validator.validate(slot) if i.severity in ("error", "warning")]
    assert [(i.severity, i.code, i.expression) for i in issues] == [
        ("error", "code-invalid", ("Slot.specialty[0]",))
    ]
    slot["specialty"][0]["coding"][0]["system"] = (
        "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
    )
    issues = [i for i in validator.validate(slot) if i.severity in ("error", "warning")]
    assert [(i.severity, i.code) for i in issues] == [("warning", "not-found")]
    assert "TRE-R38-SpecialiteOrdinale is not held" in issues[0].diagnostics
