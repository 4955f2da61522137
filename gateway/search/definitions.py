"""SearchParameter definitions as published (https://hl7.org/fhir/R4/searchparameter.html).

:func:`read_search_parameter` keeps what search needs from one SearchParameter
resource. Bases may be missing (a few R4 core extension parameters only carry an
XPath); such parameters are loaded but bound to no resource type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ParamType = Literal[
    "number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"
]
PARAM_TYPES: frozenset[str] = frozenset(
    ("number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special")
)
# Types whose index rows extraction produces (composites and specials come later).
INDEXED_TYPES: frozenset[str] = frozenset(
    ("number", "date", "string", "token", "reference", "quantity", "uri")
)


@dataclass(frozen=True, slots=True)
class Component:
    """One part of a composite parameter: the component parameter's canonical URL and
    the expression evaluated relative to the composite's own expression."""

    definition: str
    expression: str


@dataclass(frozen=True, slots=True)
class SearchParameterDef:
    url: str
    id: str
    code: str
    type: ParamType
    base: tuple[str, ...]
    expression: str | None
    description: str
    target: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    source: str = "core"


def read_search_parameter(resource: dict[str, Any], *, source: str) -> SearchParameterDef:
    """Read one SearchParameter resource; ``ValueError`` when it lacks code, type or url."""
    if resource.get("resourceType") != "SearchParameter":
        raise ValueError(f"not a SearchParameter: {resource.get('resourceType')!r}")
    code, ptype, url = resource.get("code"), resource.get("type"), resource.get("url")
    if not isinstance(code, str) or not isinstance(url, str) or ptype not in PARAM_TYPES:
        raise ValueError(f"SearchParameter {resource.get('id')!r} lacks code, url or a valid type")
    components = tuple(
        Component(str(c.get("definition", "")), str(c.get("expression", "")))
        for c in resource.get("component", [])
        if isinstance(c, dict)
    )
    return SearchParameterDef(
        url=url,
        id=str(resource.get("id", code)),
        code=code,
        type=ptype,
        base=tuple(resource.get("base", ())),
        expression=resource.get("expression") or None,
        description=str(resource.get("description", "")),
        target=tuple(resource.get("target", ())),
        components=components,
        modifiers=tuple(resource.get("modifier", ())),
        comparators=tuple(resource.get("comparator", ())),
        chain=tuple(resource.get("chain", ())),
        source=source,
    )
