"""The search parameter registry: every parameter of every resource type, compiled.

:meth:`SearchRegistry.load` reads ``profiles/search-parameters/`` (the R4 core bundle,
the gateway's own parameters and the element type map) and ``profiles/compartments/``
once, binds each definition to each of its base types (``Resource`` and
``DomainResource`` parameters to every concrete type), and compiles its expression
for that type (:mod:`gateway.search.compiler`, falling back to ``fhirpathpy``).

A bound parameter is **served** when extraction can index it: an indexed type (token,
string, date, reference, quantity, number, uri) whose expression compiles or falls
back, and whose value types all map to index rows. Composite and special parameters,
and parameters without an expression (``_text``, ``_content``, ``_query``), are known
but not served; :attr:`BoundParam.reason` says why. The CapabilityStatement lists only
served parameters (:meth:`SearchRegistry.capability_search_params`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.search.bound import BoundComponent, BoundParam, Extractor
from gateway.search.builders import builder_for, dynamic_builder
from gateway.search.compiler import (
    DYNAMIC,
    HAND_COMPILED,
    HandGetter,
    UnknownElement,
    compile_expression,
)
from gateway.search.definitions import INDEXED_TYPES, SearchParameterDef, read_search_parameter
from gateway.search.elements import ElementTypes
from gateway.search.fallback import FallbackGetter
from gateway.search.pathexpr import Unsupported
from gateway.search.plan import Plan, plan_for

CORE_BUNDLE = "search-parameters-r4-core.json"
GATEWAY_BUNDLE = "gateway-search-parameters.json"
ELEMENT_TYPES = "element-types.json"
# Published as examples of the SearchParameter resource, not as definitions to serve.
EXAMPLE_IDS = frozenset({"example", "example-extension", "example-reference"})
# Resource types that are not DomainResources (no text, contained, extension).
NON_DOMAIN = frozenset({"Binary", "Bundle", "Parameters"})


@dataclass(frozen=True, slots=True)
class RegistryStats:
    definitions: int
    unbound: int
    bound: int
    served: int
    compiled: int
    fallback: int
    fallback_definitions: tuple[str, ...]
    hand_compiled: int
    unserved: Mapping[str, int] = field(default_factory=dict)


class SearchRegistry:
    """Lookups by (resource type, parameter code); immutable after construction."""

    def __init__(
        self,
        definitions: Iterable[SearchParameterDef],
        elements: ElementTypes,
        compartments: Iterable[dict[str, Any]] = (),
    ) -> None:
        self.elements = elements
        self.definitions: tuple[SearchParameterDef, ...] = tuple(definitions)
        self.resource_types: frozenset[str] = elements.resources
        self._by_url = {d.url: d for d in self.definitions}
        self._params: dict[str, dict[str, BoundParam]] = {t: {} for t in self.resource_types}
        self._unbound = 0
        for definition in self.definitions:
            self._bind(definition)
        self._plans: dict[str, Plan] = {t: plan_for(self.served(t)) for t in self.resource_types}
        self._compartments: dict[str, dict[str, tuple[str, ...]]] = {}
        for comp in compartments:
            self._add_compartment(comp)

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def load(cls, profiles_dir: Path) -> SearchRegistry:
        """Load from a ``profiles/`` directory (see the module docstring for the layout)."""
        sp_dir = profiles_dir / "search-parameters"
        elements = ElementTypes.load(sp_dir / ELEMENT_TYPES)
        definitions = _read_bundle(sp_dir / CORE_BUNDLE, source="core")
        gateway = sp_dir / GATEWAY_BUNDLE
        if gateway.exists():
            definitions += _read_bundle(gateway, source="gateway")
        compartments = [
            json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((profiles_dir / "compartments").glob("CompartmentDefinition-*.json"))
        ]
        return cls(definitions, elements, compartments)

    def _bind(self, definition: SearchParameterDef) -> None:
        if (definition.id in EXAMPLE_IDS and definition.source == "core") or not definition.base:
            self._unbound += 1
            return
        for base in definition.base:
            if base in ("Resource", "DomainResource"):
                types = [
                    t for t in self.resource_types if base == "Resource" or t not in NON_DOMAIN
                ]
            elif base in self.resource_types:
                types = [base]
            else:
                continue
            for rtype in types:
                existing = self._params[rtype].get(definition.code)
                # A gateway definition replaces a core one of the same code; otherwise the
                # first published definition wins.
                if existing is not None and not (
                    definition.source == "gateway" and existing.definition.source == "core"
                ):
                    continue
                self._params[rtype][definition.code] = self._bind_one(definition, rtype)

    def _bind_one(self, definition: SearchParameterDef, rtype: str) -> BoundParam:
        if definition.type == "composite":
            components = tuple(
                self._component(c.definition, c.expression) for c in definition.components
            )
            return BoundParam(
                definition,
                rtype,
                False,
                "composite parameters are not served yet",
                components=components,
            )
        if definition.type not in INDEXED_TYPES:
            return BoundParam(
                definition, rtype, False, f"{definition.type} parameters are not served"
            )
        if definition.expression is None:
            return BoundParam(definition, rtype, False, "no FHIRPath expression (not supported)")
        try:
            getters = compile_expression(definition.expression, rtype, self.elements)
        except UnknownElement as exc:
            return BoundParam(definition, rtype, False, f"expression not valid for {rtype}: {exc}")
        except Unsupported:
            hand = HAND_COMPILED.get(definition.expression)
            builder = builder_for(definition.type, hand[1]) if hand else None
            if hand is not None and builder is not None:
                return BoundParam(
                    definition, rtype, True, None, False, (Extractor(HandGetter(*hand), builder),)
                )
            try:
                fallback = FallbackGetter(definition.expression)
            except Exception as exc:
                return BoundParam(definition, rtype, False, f"expression not supported: {exc}")
            return BoundParam(definition, rtype, True, None, True, (Extractor(fallback, None),))
        extractors = []
        for getter in getters:
            builder = (
                dynamic_builder(definition.type)
                if getter.type in (DYNAMIC, "Extension")
                else builder_for(definition.type, getter.type)
            )
            if builder is not None:
                extractors.append(Extractor(getter, builder))
        if not extractors and getters:
            types = sorted({g.type for g in getters})
            return BoundParam(definition, rtype, False, f"no index mapping for {'/'.join(types)}")
        return BoundParam(definition, rtype, True, None, False, tuple(extractors))

    def _component(self, url: str, expression: str) -> BoundComponent:
        target = self._by_url.get(url)
        if target is None:
            return BoundComponent(url.rsplit("/", 1)[-1], "unknown", expression)
        return BoundComponent(target.code, target.type, expression)

    def _add_compartment(self, definition: dict[str, Any]) -> None:
        code = definition.get("code")
        if not isinstance(code, str):
            return
        code = code[:1].upper() + code[1:]  # CompartmentType codes: Patient, Encounter…
        table: dict[str, tuple[str, ...]] = {}
        for entry in definition.get("resource", []):
            params = tuple(p for p in entry.get("param", ()) if p != "{def}")
            if params:
                table[entry["code"]] = params
        self._compartments[code] = table

    # --- lookups ------------------------------------------------------------------------

    def is_resource_type(self, name: str) -> bool:
        return name in self.resource_types

    def get(self, resource_type: str, code: str) -> BoundParam | None:
        """The parameter ``code`` of ``resource_type`` (served or not), or ``None``."""
        return self._params.get(resource_type, {}).get(code)

    def params(self, resource_type: str) -> Mapping[str, BoundParam]:
        return self._params.get(resource_type, {})

    def served(self, resource_type: str) -> list[BoundParam]:
        return [p for p in self._params.get(resource_type, {}).values() if p.served]

    def common(self, code: str) -> BoundParam | None:
        """A parameter defined on every resource type (for searches across types)."""
        found = [self._params[t].get(code) for t in sorted(self.resource_types)]
        first = found[0] if found else None
        if first is None or any(
            p is None or p.definition.url != first.definition.url for p in found
        ):
            return None
        return first

    def plan(self, resource_type: str) -> Plan:
        """The extraction plan of a resource type (``KeyError`` for an unknown type)."""
        return self._plans[resource_type]

    def definition_by_url(self, url: str) -> SearchParameterDef | None:
        return self._by_url.get(url)

    def compartment_params(self, compartment: str, resource_type: str) -> tuple[str, ...]:
        """Parameters linking ``resource_type`` to a ``compartment`` (e.g. ``Patient``)."""
        return self._compartments.get(compartment, {}).get(resource_type, ())

    def compartments(self) -> tuple[str, ...]:
        """The compartment types with a loaded CompartmentDefinition (``Patient``…)."""
        return tuple(sorted(self._compartments))

    def compartment_types(self, compartment: str) -> frozenset[str]:
        return frozenset(self._compartments.get(compartment, {}))

    def capability_search_params(self, resource_type: str) -> list[dict[str, str]]:
        """``CapabilityStatement.rest.resource.searchParam`` entries: served ones only."""
        out = []
        for param in sorted(self.served(resource_type), key=lambda p: p.code):
            entry = {"name": param.code, "definition": param.definition.url, "type": param.type}
            if param.definition.description:
                entry["documentation"] = param.definition.description
            out.append(entry)
        return out

    def capability_includes(self, resource_type: str) -> list[str]:
        """``searchInclude``: what ``_include`` accepts on a search of ``resource_type``:
        ``*`` and ``Type:param`` for each served reference parameter of the type."""
        refs = sorted(p.code for p in self.served(resource_type) if p.type == "reference")
        return ["*", *(f"{resource_type}:{code}" for code in refs)] if refs else []

    def capability_revincludes(self, resource_type: str, sources: Iterable[str]) -> list[str]:
        """``searchRevInclude``: what ``_revinclude`` accepts on a search of
        ``resource_type``: ``*`` and ``Source:param`` for each served reference parameter
        of a type in ``sources`` that may point to ``resource_type``."""
        found = sorted(
            f"{source}:{p.code}"
            for source in sources
            for p in self.served(source)
            if p.type == "reference" and (not p.targets or resource_type in p.targets)
        )
        return ["*", *found] if found else []

    def stats(self) -> RegistryStats:
        bound = [p for table in self._params.values() for p in table.values()]
        served = [p for p in bound if p.served]
        fallback = [p for p in served if p.fallback]
        unserved: dict[str, int] = {}
        for p in bound:
            if not p.served and p.reason:
                key = p.reason.split(":")[0]
                unserved[key] = unserved.get(key, 0) + 1
        return RegistryStats(
            definitions=len(self.definitions),
            unbound=self._unbound,
            bound=len(bound),
            served=len(served),
            compiled=len(served) - len(fallback),
            fallback=len(fallback),
            fallback_definitions=tuple(sorted({p.definition.id for p in fallback})),
            hand_compiled=sum(
                1 for p in served if any(isinstance(e.getter, HandGetter) for e in p.extractors)
            ),
            unserved=unserved,
        )


def _read_bundle(path: Path, *, source: str) -> list[SearchParameterDef]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    resources = [e["resource"] for e in bundle.get("entry", [])] if "entry" in bundle else [bundle]
    return [read_search_parameter(r, source=source) for r in resources]
