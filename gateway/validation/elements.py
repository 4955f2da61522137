"""The compiled form of a profile: a tree of element rules, built once per profile.

An :class:`ElementRule` is one snapshot ``ElementDefinition`` turned into what the walker
needs: cardinality, allowed types, fixed/pattern value, binding, compiled invariants, its
children (when the snapshot lists them; otherwise the type's own definition supplies them)
and its slicing. A :class:`Shape` is the view of an object that the walker uses: JSON member
name → (rule, type), with the rules to check once per object.

See https://hl7.org/fhir/R4/elementdefinition.html and
https://hl7.org/fhir/R4/profiling.html#slicing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from gateway.validation.invariants import Invariant


class _NoValue:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()

#: FHIR R4 primitive types (https://hl7.org/fhir/R4/datatypes.html#primitive).
PRIMITIVE_TYPES = frozenset(
    [
        "boolean",
        "integer",
        "string",
        "decimal",
        "uri",
        "url",
        "canonical",
        "base64Binary",
        "instant",
        "date",
        "dateTime",
        "time",
        "code",
        "oid",
        "id",
        "markdown",
        "unsignedInt",
        "positiveInt",
        "uuid",
        "xhtml",
    ]
)


#: What the walker does with a value of a type (TypeRef.kind).
PRIMITIVE, COMPLEX, RESOURCE, IDENTIFIER, REFERENCE, EXTENSION = range(6)
_SPECIAL_KINDS = {"Identifier": IDENTIFIER, "Reference": REFERENCE, "Extension": EXTENSION}


class TypeRef:
    """One ``ElementDefinition.type``: its code, profiles, and allowed reference targets.

    ``kind``, ``checker`` and ``suffix`` are computed once (the registry settles ``kind``
    for resource types and attaches the primitive checker) because the walker reads them
    for every value.
    """

    __slots__ = ("checker", "code", "kind", "primitive", "profiles", "suffix", "targets")

    def __init__(
        self,
        code: str,
        profiles: tuple[str, ...] = (),
        targets: frozenset[str] | None = None,
    ) -> None:
        self.code = code
        self.profiles = profiles
        #: resource types a Reference/canonical may point to; ``None`` means any
        self.targets = targets
        self.primitive = code in PRIMITIVE_TYPES
        self.kind = PRIMITIVE if self.primitive else _SPECIAL_KINDS.get(code, COMPLEX)
        self.checker: Any = None
        #: the suffix of a choice element's JSON name (``value`` + ``Quantity``)
        self.suffix = code[:1].upper() + code[1:]

    def __repr__(self) -> str:
        return f"TypeRef({self.code!r}, {self.profiles!r})"


@dataclass(frozen=True, slots=True)
class Binding:
    strength: str
    value_set: str


@dataclass(frozen=True, slots=True)
class Discriminator:
    type: str  # value | pattern | type | profile | exists
    path: str


@dataclass(slots=True, eq=False)
class Slicing:
    discriminators: tuple[Discriminator, ...]
    rules: str  # open | closed | openAtEnd
    ordered: bool
    slices: list[ElementRule] = field(default_factory=list)
    #: compiled by :mod:`gateway.validation.slicing` on first use
    matchers: Any = None


@dataclass(slots=True, eq=False)
class ElementRule:
    id: str
    path: str
    name: str  # JSON member name, without ``[x]``
    min: int
    max: int | None  # None: unbounded
    array: bool  # the JSON form is an array (the base definition's max is not 1)
    types: tuple[TypeRef, ...]
    profile: str  # canonical URL of the profile this rule comes from (for messages)
    fixed: Any = NO_VALUE
    pattern: Any = NO_VALUE
    binding: Binding | None = None
    invariants: tuple[Invariant, ...] = ()
    children: dict[str, ElementRule] | None = None
    slicing: Slicing | None = None
    slice_name: str | None = None
    content_ref: str | None = None
    max_length: int | None = None
    is_modifier: bool = False
    #: shapes by ``id()`` of the TypeRef (0 for a profile root), filled by the registry
    shapes: dict[int, Shape] = field(default_factory=dict)
    #: any value check beyond the type (fixed, pattern, binding, length, invariants)
    checks: bool = True
    #: the cardinality of the base definition (ElementDefinition.base), which a profile
    #: may narrow: a count outside it is malformed R4, not only a profile failure
    base_min: int = 0
    base_max: int | None = None
    #: typed with a FHIRPath System type (Resource.id, Element.id, Extension.url): a
    #: bare JSON value, with no ``_name`` part for an id or extensions
    bare: bool = False

    @property
    def choice(self) -> bool:
        return self.path.endswith("[x]")

    @property
    def label(self) -> str:
        return f"{self.path}:{self.slice_name}" if self.slice_name else self.path


#: The JSON members that carry one element: (``name``, ``_name``) per allowed type.
Keys = tuple[tuple[str, str], ...]


#: A JSON member of a :class:`Shape`: (rule, type, FHIRPath segment such as
#: ``.value.ofType(Quantity)``, whether its items need slicing or extension lookup).
Member = tuple[ElementRule, TypeRef, str, bool]


@dataclass(slots=True, eq=False)
class Shape:
    """How to walk an object of one type under one rule."""

    #: JSON member name → its rule, type, segment and grouping (see :data:`Member`)
    members: dict[str, Member]
    required: tuple[tuple[ElementRule, Keys], ...]  # min > 0
    limited: tuple[tuple[ElementRule, Keys], ...]  # bounded arrays, prohibited elements
    choice_groups: tuple[tuple[ElementRule, Keys], ...]  # one value[x] at most
    invariants: tuple[Invariant, ...]
    choices: dict[str, ElementRule]  # choice base name → rule, to name disallowed types
    type_code: str = ""  # the type of the objects it walks (extension contexts)
    #: anything to check once the members are walked (cardinality, choices, invariants)
    checks: bool = True
