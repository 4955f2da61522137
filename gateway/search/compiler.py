"""Compile search parameter expressions into fast dictionary walks, once, at load time.

A compiled expression is a list of :class:`Getter`: each walks the resource JSON along
fixed keys and filters and yields values of one known FHIR type, so that the row
builder for that type can be chosen at compile time too. A choice element without a
cast (``Observation.effective``) fans out into one getter per JSON key
(``effectiveDateTime``, ``effectivePeriod``…). Expressions outside the subset of
:mod:`gateway.search.pathexpr` fall back to ``fhirpathpy`` (:class:`FallbackGetter`),
whose values carry no type, so their type is inferred from their shape.

Semantics follow https://hl7.org/fhir/R4/searchparameter.html (``expression``) and
FHIRPath (https://hl7.org/fhirpath/N1/): ``resolve() is T`` is decided from the
reference itself (``T/id``, an absolute URL ending in ``T/id``, ``Reference.type``, or
the ``resourceType`` of a contained resource for ``#id``) since extraction may not read
other resources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.search.elements import ElementTypes, fhir_type_name
from gateway.search.pathexpr import (
    Branch,
    Cast,
    ExtensionStep,
    Field,
    Index,
    Step,
    Unsupported,
    WhereEquals,
    WhereResolve,
    parse_path,
)
from gateway.search.references import reference_type


class UnknownElement(Unsupported):
    """The expression names an element the type does not have; no engine can help."""


Filter = Callable[[Any, dict[str, Any]], bool]
Op = str | int | Filter

# Specialisations: ``x as T`` keeps values of T's subtypes too (FHIRPath ``is``).
_SUBTYPES = {
    "Quantity": frozenset(
        {"Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
    ),
    "uri": frozenset({"uri", "url", "canonical", "oid", "uuid"}),
    "string": frozenset({"string", "code", "id", "markdown"}),
    "integer": frozenset({"integer", "positiveInt", "unsignedInt"}),
}
# A choice this wide (Extension.value[x]) is resolved per value at run time instead.
_DYNAMIC_CHOICE_WIDTH = 12
DYNAMIC = "*"  # type of a getter whose values are parents of a choice ``value[x]``


@dataclass(frozen=True, slots=True)
class Getter:
    """Walk ``ops`` from the resource; every value found is of FHIR type ``type``.

    When ``type`` is :data:`DYNAMIC` the values are the elements holding a choice
    ``value[x]`` (extensions), resolved by JSON key at run time.
    """

    ops: tuple[Op, ...]
    type: str

    def values(self, resource: dict[str, Any]) -> list[Any]:
        return walk_from([resource], self.ops, resource)


def walk(root: dict[str, Any], ops: tuple[Op, ...]) -> list[Any]:
    """The values ``ops`` reach from the resource ``root``."""
    return walk_from([root], ops, root)


def walk_from(start: list[Any], ops: tuple[Op, ...], root: dict[str, Any]) -> list[Any]:
    """Apply ``ops`` to the collection ``start`` (FHIRPath collection semantics: a key
    flattens lists, an index selects within the whole collection, a filter keeps items)."""
    items = start
    for op in ops:
        if op.__class__ is str:
            nxt: list[Any] = []
            for item in items:
                if item.__class__ is dict:
                    value = item.get(op)
                    if value is not None:
                        if value.__class__ is list:
                            nxt.extend(value)
                        else:
                            nxt.append(value)
            items = nxt
        elif op.__class__ is int:
            items = items[op : op + 1]
        else:
            items = [item for item in items if op(item, root)]  # type: ignore[operator]
        if not items:
            return items
    return items


def _deceased(resource: dict[str, Any]) -> list[Any]:
    if resource.get("deceasedBoolean") is True or "deceasedDateTime" in resource:
        return [True]
    return [False]


# Expressions outside the compiled subset that matter for speed, compiled by hand.
# Each function must agree with the expression; tests compare them with fhirpathpy.
HAND_COMPILED: dict[str, tuple[Callable[[dict[str, Any]], list[Any]], str]] = {
    # R4 Patient-deceased (token): true when deceased[x] is present and not false.
    "Patient.deceased.exists() and Patient.deceased != false": (_deceased, "boolean"),
}


@dataclass(frozen=True, slots=True)
class HandGetter:
    """A hand-compiled expression (see :data:`HAND_COMPILED`)."""

    fn: Callable[[dict[str, Any]], list[Any]]
    type: str

    def values(self, resource: dict[str, Any]) -> list[Any]:
        return self.fn(resource)


@dataclass(slots=True)
class _State:
    ops: tuple[Op, ...]
    type: str
    context: str


def compile_expression(expression: str, resource_type: str, elements: ElementTypes) -> list[Getter]:
    """Compile the branches of ``expression`` that apply to ``resource_type``.

    Raises :class:`Unsupported` when any applicable branch is outside the subset or
    names an element that does not exist.
    """
    getters: list[Getter] = []
    for branch in parse_path(expression):
        start = _start_context(branch, resource_type, elements)
        if start is None:
            continue
        getters.extend(_compile_branch(branch.steps, start, elements))
    return getters


def applies_to(expression: str, resource_type: str, elements: ElementTypes) -> bool:
    """Whether any branch of a parseable ``expression`` starts at ``resource_type``."""
    return any(
        _start_context(b, resource_type, elements) is not None for b in parse_path(expression)
    )


def _start_context(branch: Branch, resource_type: str, elements: ElementTypes) -> str | None:
    root = branch.root
    if root is None or root == resource_type:
        return resource_type
    if root in ("Resource", "DomainResource"):
        return root
    if elements.is_resource(root):
        return None
    raise Unsupported(f"unknown root type {root}")


def _compile_branch(steps: tuple[Step, ...], start: str, elements: ElementTypes) -> list[Getter]:
    states = [_State((), start, start)]
    for i, step in enumerate(steps):
        following = steps[i + 1] if i + 1 < len(steps) else None
        nxt: list[_State] = []
        for state in states:
            nxt.extend(_apply(step, following, state, elements))
        states = nxt
    return [Getter(s.ops, s.type) for s in states]


def _apply(
    step: Step, following: Step | None, state: _State, elements: ElementTypes
) -> list[_State]:
    if isinstance(step, Field):
        if state.type == DYNAMIC:
            raise Unsupported("navigation below an untyped choice")
        children = elements.children(state.context, step.name)
        if children is None:
            raise UnknownElement(f"no element {state.context}.{step.name}")
        if len(children) >= _DYNAMIC_CHOICE_WIDTH and not isinstance(following, Cast):
            if step.name != "value":
                raise Unsupported(f"wide choice {step.name}[x] without a cast")
            return [_State(state.ops, DYNAMIC, state.context)]
        if isinstance(following, Cast) and len(children) > 1:
            wanted = _SUBTYPES.get(fhir_type_name(following.type), {fhir_type_name(following.type)})
            children = [c for c in children if c.type in wanted]
        return [_State((*state.ops, c.key), c.type, c.context) for c in children]
    if isinstance(step, Cast):
        wanted = _SUBTYPES.get(fhir_type_name(step.type), {fhir_type_name(step.type)})
        if state.type in wanted:
            return [state]
        if state.type == "Resource" and elements.is_resource(step.type):
            return [_State((*state.ops, _is_resource(step.type)), step.type, step.type)]
        return []
    if isinstance(step, Index):
        return [_State((*state.ops, step.index), state.type, state.context)]
    if isinstance(step, ExtensionStep):
        return [_State((*state.ops, "extension", _url_is(step.url)), "Extension", "Extension")]
    if isinstance(step, WhereResolve):
        if state.type not in ("Reference", "canonical", "uri"):
            raise Unsupported(f"resolve() on {state.type}")
        return [_State((*state.ops, _resolves_to(step.type)), state.type, state.context)]
    if isinstance(step, WhereEquals):
        return [_State((*state.ops, _field_is(step.field, step.value)), state.type, state.context)]
    return [_State((*state.ops, _has_extension(step.url)), state.type, state.context)]


def _url_is(url: str) -> Filter:
    def check(item: Any, root: dict[str, Any]) -> bool:
        return item.__class__ is dict and item.get("url") == url

    return check


def _field_is(name: str, value: str) -> Filter:
    def check(item: Any, root: dict[str, Any]) -> bool:
        return item.__class__ is dict and item.get(name) == value

    return check


def _has_extension(url: str) -> Filter:
    def check(item: Any, root: dict[str, Any]) -> bool:
        if item.__class__ is not dict:
            return False
        exts = item.get("extension")
        return isinstance(exts, list) and any(
            e.__class__ is dict and e.get("url") == url for e in exts
        )

    return check


def _resolves_to(type_name: str) -> Filter:
    def check(item: Any, root: dict[str, Any]) -> bool:
        return reference_type(item, root) == type_name

    return check


def _is_resource(type_name: str) -> Filter:
    def check(item: Any, root: dict[str, Any]) -> bool:
        return item.__class__ is dict and item.get("resourceType") == type_name

    return check
