"""Compile a StructureDefinition snapshot into a tree of :class:`ElementRule`.

Elements are placed by their ``id`` (``Patient.identifier:INS-NIR.system``): the last
``name:slice`` segment says whether an element is a child of the previous segments or a
slice of the element with the same id without the slice name (FHIR R4 §2.25.5 element
ids). ``contentReference`` elements share the children of the element they name.

See https://hl7.org/fhir/R4/elementdefinition.html#id and
https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.contentReference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.validation.elements import (
    NO_VALUE,
    Binding,
    Discriminator,
    ElementRule,
    Slicing,
    TypeRef,
)
from gateway.validation.invariants import InvariantCompiler
from gateway.validation.package import canonical_url

FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}

#: target profile URL → resource type it constrains (``None`` when unknown: any type)
TargetResolver = Callable[[str], str | None]


@dataclass(slots=True, eq=False)
class CompiledProfile:
    url: str
    type: str  # the resource or data type constrained
    kind: str  # resource | complex-type | primitive-type
    root: ElementRule
    ancestors: frozenset[str]  # every baseDefinition up the chain
    #: for extensions: the element paths or type names they may be used on
    contexts: tuple[str, ...] = ()


def type_code(t: dict[str, Any]) -> str:
    """A type's code; FHIRPath system types map back to the FHIR primitive they stand for."""
    for ext in t.get("extension") or ():
        if ext.get("url") == FHIR_TYPE_EXTENSION:
            value = ext.get("valueUrl") or ext.get("valueUri")
            if isinstance(value, str):
                return value
    code = str(t.get("code", ""))
    return _SYSTEM_TYPES.get(code, code)


def _max(value: Any) -> int | None:
    if value == "*" or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _prefixed(element: dict[str, Any], prefix: str) -> Any:
    for key, value in element.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return value
    return NO_VALUE


def compile_structure(
    sd: dict[str, Any],
    elements: list[dict[str, Any]],
    invariants: InvariantCompiler,
    target_type: TargetResolver,
    ancestors: frozenset[str],
) -> CompiledProfile:
    """Build the rule tree of ``sd`` from its (given or generated) snapshot ``elements``."""
    url = str(sd.get("url", ""))
    by_id: dict[str, ElementRule] = {}
    root: ElementRule | None = None
    for element in elements:
        eid = str(element.get("id") or element.get("path", ""))
        rule = _rule(element, eid, url, invariants, target_type)
        by_id[eid] = rule
        if root is None:
            root = rule
            continue
        parent_id, _, last = eid.rpartition(".")
        name, _, slice_name = last.partition(":")
        if slice_name:
            sliced = by_id.get(f"{parent_id}.{name}")
            if sliced is None:
                continue
            if sliced.slicing is None:
                # A slice without a declared slicing: treat it as open, matched by content.
                sliced.slicing = Slicing((), "open", False)
            sliced.slicing.slices.append(rule)
        else:
            parent = by_id.get(parent_id)
            if parent is None:
                continue
            if parent.children is None:
                parent.children = {}
            parent.children[name] = rule
    if root is None:
        raise ValueError(f"{url}: the snapshot has no elements")
    for rule in by_id.values():
        if rule.content_ref:
            target = by_id.get(rule.content_ref.lstrip("#").split("#")[-1])
            if target is not None:
                rule.children = target.children
                rule.types = target.types
                rule.invariants = _merge(rule.invariants, target.invariants)
    return CompiledProfile(
        url=url,
        type=str(sd.get("type", "")),
        kind=str(sd.get("kind", "")),
        root=root,
        ancestors=ancestors,
        contexts=tuple(
            str(c.get("expression"))
            for c in sd.get("context") or ()
            if c.get("type") == "element" and isinstance(c.get("expression"), str)
        ),
    )


def _merge(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    keys = {i.key for i in a}
    return a + tuple(i for i in b if i.key not in keys)


def _rule(
    element: dict[str, Any],
    eid: str,
    profile: str,
    invariants: InvariantCompiler,
    target_type: TargetResolver,
) -> ElementRule:
    path = str(element.get("path", eid))
    last = path.rsplit(".", 1)[-1]
    name = last[:-3] if last.endswith("[x]") else last
    base = element.get("base") or {}
    array = _max(base.get("max", element.get("max"))) != 1 and "." in path
    types = tuple(_type_ref(t, target_type) for t in element.get("type") or ())
    if path.count(".") == 1 and name == "id" and types and types[0].code == "string":
        types = (TypeRef("id"),)  # Resource.id is an id (R4 §2.27 "id"), typed System.String
    binding = element.get("binding") or {}
    compiled = tuple(
        inv for c in element.get("constraint") or () if (inv := invariants.compile(c)) is not None
    )
    slicing = element.get("slicing")
    content_ref = element.get("contentReference")
    max_length = element.get("maxLength")
    return ElementRule(
        id=eid,
        path=path,
        name=name,
        min=int(element.get("min", 0) or 0),
        max=_max(element.get("max", "*")),
        array=array,
        types=types,
        profile=profile,
        fixed=_prefixed(element, "fixed"),
        pattern=_prefixed(element, "pattern"),
        binding=(
            Binding(str(binding.get("strength")), canonical_url(binding["valueSet"]))
            if isinstance(binding.get("valueSet"), str)
            and binding.get("strength") in ("required", "extensible")
            else None
        ),
        invariants=compiled,
        slicing=_slicing(slicing) if isinstance(slicing, dict) else None,
        slice_name=element.get("sliceName"),
        content_ref=content_ref if isinstance(content_ref, str) else None,
        max_length=max_length if isinstance(max_length, int) else None,
        is_modifier=element.get("isModifier") is True,
        base_min=int(base.get("min", element.get("min", 0)) or 0),
        base_max=_max(base.get("max", element.get("max", "*"))),
        bare=bool(element.get("type"))
        and all(str(t.get("code", "")) in _SYSTEM_TYPES for t in element.get("type") or ()),
    )


def _type_ref(t: dict[str, Any], target_type: TargetResolver) -> TypeRef:
    code = type_code(t)
    profiles = tuple(canonical_url(p) for p in t.get("profile") or ())
    targets: frozenset[str] | None = None
    target_profiles = t.get("targetProfile") or ()
    if target_profiles:
        resolved = [target_type(canonical_url(p)) for p in target_profiles]
        if all(r is not None for r in resolved) and "Resource" not in resolved:
            targets = frozenset(r for r in resolved if r is not None)
    return TypeRef(code, profiles, targets)


def _slicing(raw: dict[str, Any]) -> Slicing:
    discriminators = tuple(
        Discriminator(str(d.get("type", "value")), str(d.get("path", "$this")))
        for d in raw.get("discriminator") or ()
    )
    return Slicing(discriminators, str(raw.get("rules", "open")), raw.get("ordered") is True)
