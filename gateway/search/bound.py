"""A search parameter bound to one resource type, with its compiled extractors."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.search.builders import Builder
from gateway.search.compiler import Getter, HandGetter
from gateway.search.definitions import SearchParameterDef
from gateway.search.fallback import FallbackGetter


@dataclass(frozen=True, slots=True)
class Extractor:
    """One way a parameter gets values: a getter and the row builder for its type."""

    getter: Getter | HandGetter | FallbackGetter
    builder: Builder | None  # None: infer the type of each value (fallback)


@dataclass(frozen=True, slots=True)
class BoundComponent:
    """A composite's component, resolved to the component parameter's code and type."""

    code: str
    type: str
    expression: str


@dataclass(frozen=True, slots=True)
class BoundParam:
    """A search parameter bound to one resource type."""

    definition: SearchParameterDef
    resource_type: str
    served: bool
    reason: str | None = None
    fallback: bool = False
    extractors: tuple[Extractor, ...] = ()
    components: tuple[BoundComponent, ...] = ()

    @property
    def code(self) -> str:
        return self.definition.code

    @property
    def type(self) -> str:
        return self.definition.type

    @property
    def targets(self) -> tuple[str, ...]:
        return self.definition.target

    @property
    def value_types(self) -> frozenset[str]:
        """FHIR types the compiled expression yields (``?`` when not known statically)."""
        return frozenset(e.getter.type for e in self.extractors)
