"""What a conformance resource needs from others, and the closure of those needs.

Used twice: to cut the R4 core package down to what validation needs
(``profiles/r4-core/make_subset.py``), and by the loader test, which proves that nothing
needed is missing from ``profiles/`` except the documented gaps.

A StructureDefinition needs its ``baseDefinition``, the StructureDefinition of each type it
uses (and each ``type.profile``), and the ValueSet of each binding at or above
``min_strength``. A ValueSet needs the CodeSystems and ValueSets it includes. Target
profiles of references are not needed: a reference is checked against the target *type*,
which the URL of an HL7 profile names.

See https://hl7.org/fhir/R4/elementdefinition.html and https://hl7.org/fhir/R4/valueset.html#compositions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from gateway.validation.package import ConformanceIndex, canonical_url, type_url

Strength = Literal["required", "extensible", "preferred", "example"]
_STRENGTH_RANK: dict[str, int] = {"required": 3, "extensible": 2, "preferred": 1, "example": 0}
#: FHIRPath system types (``http://hl7.org/fhirpath/System.String``) are not definitions.
_SYSTEM_TYPES = "http://hl7.org/fhirpath/"


@dataclass(frozen=True, slots=True)
class Need:
    """One canonical URL a resource depends on, and why (for messages and the test report)."""

    url: str
    kind: Literal["StructureDefinition", "ValueSet", "CodeSystem"]
    reason: str


def needs_of(resource: dict[str, Any], min_strength: Strength = "required") -> Iterator[Need]:
    """Every definition ``resource`` depends on (see the module docstring)."""
    kind = resource.get("resourceType")
    if kind == "StructureDefinition":
        yield from _structure_needs(resource, _STRENGTH_RANK[min_strength])
    elif kind == "ValueSet":
        yield from _value_set_needs(resource)


def _structure_needs(sd: dict[str, Any], min_rank: int) -> Iterator[Need]:
    base = sd.get("baseDefinition")
    if isinstance(base, str):
        yield Need(canonical_url(base), "StructureDefinition", "baseDefinition")
    for key in ("snapshot", "differential"):
        for element in (sd.get(key) or {}).get("element") or ():
            path = element.get("path", "?")
            for t in element.get("type") or ():
                code = t.get("code")
                if isinstance(code, str) and not code.startswith(_SYSTEM_TYPES):
                    yield Need(type_url(code), "StructureDefinition", f"type of {path}")
                for profile in t.get("profile") or ():
                    yield Need(canonical_url(profile), "StructureDefinition", f"profile of {path}")
            binding = element.get("binding") or {}
            vs = binding.get("valueSet")
            strength = binding.get("strength", "example")
            if isinstance(vs, str) and _STRENGTH_RANK.get(strength, 0) >= min_rank:
                yield Need(canonical_url(vs), "ValueSet", f"{strength} binding of {path}")


def _value_set_needs(vs: dict[str, Any]) -> Iterator[Need]:
    compose = vs.get("compose") or {}
    for part in ("include", "exclude"):
        for inc in compose.get(part) or ():
            system = inc.get("system")
            if isinstance(system, str) and (inc.get("filter") or not inc.get("concept")):
                # Enumerated concepts need no CodeSystem; filters and whole systems do.
                yield Need(system, "CodeSystem", f"compose.{part} of {vs.get('url')}")
            for other in inc.get("valueSet") or ():
                yield Need(canonical_url(other), "ValueSet", f"compose.{part} of {vs.get('url')}")


def closure(
    roots: Iterable[str], source: ConformanceIndex, min_strength: Strength = "required"
) -> tuple[set[str], list[Need]]:
    """The URLs reachable from ``roots`` in ``source``, and the needs ``source`` cannot meet."""
    found: set[str] = set()
    missing: list[Need] = []
    todo = [Need(r, "StructureDefinition", "root") for r in roots]
    while todo:
        need = todo.pop()
        if need.url in found:
            continue
        resource = source.get(need.url)
        if resource is None:
            missing.append(need)
            continue
        found.add(need.url)
        todo.extend(needs_of(resource, min_strength))
    return found, missing


def unmet_needs(index: ConformanceIndex, min_strength: Strength = "required") -> list[Need]:
    """Needs of every resource in ``index`` that ``index`` itself cannot meet."""
    missing: dict[str, Need] = {}
    for resource in index.by_url.values():
        for need in needs_of(resource, min_strength):
            if index.get(need.url) is None:
                missing.setdefault(need.url, need)
    return sorted(missing.values(), key=lambda n: n.url)
