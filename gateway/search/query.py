"""The typed search request that :func:`gateway.search.parse_search` produces.

A :class:`SearchRequest` is a conjunction (AND) of clauses; each clause holds a
disjunction (OR) of typed values (https://hl7.org/fhir/R4/search.html#combining).
Values are already parsed and normalised the way the index rows were, so compiling
them to SQL needs no further interpretation:

- :class:`TokenValue`: ``system`` ``None`` = any system; ``""`` = no system (``|code``);
  ``code`` ``None`` = any code (``system|``);
- :class:`OfTypeValue` matches the ``<param>:of-type`` rows (``code`` = ``"type|value"``);
- :class:`DateValue`, :class:`NumberValue`, :class:`QuantityValue` carry the prefix and
  the value's implicit range ``[low, high)`` (dates in µs since the epoch, UTC);
- :class:`ReferenceValue`: ``type``/``id`` for local references (``type`` ``None`` when
  only an id was given and the parameter has several targets), ``url`` for absolute
  and canonical ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from gateway.errors import Issue

Prefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]
PREFIXES: frozenset[str] = frozenset(("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"))
Total = Literal["none", "estimate", "accurate"]
Summary = Literal["true", "false", "text", "data", "count"]


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class OfTypeValue:
    type_system: str
    type_code: str
    value: str

    @property
    def code(self) -> str:
        """The ``code`` of the matching ``<param>:of-type`` index row."""
        return f"{self.type_code}|{self.value}"


@dataclass(frozen=True, slots=True)
class TextValue:
    """``:text`` on a token: a string match on normalised display/text."""

    text: str
    norm: str


@dataclass(frozen=True, slots=True)
class StringValue:
    text: str
    norm: str


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: Prefix
    low: int
    high: int
    text: str


@dataclass(frozen=True, slots=True)
class NumberValue:
    prefix: Prefix
    value: Decimal
    low: Decimal
    high: Decimal
    text: str


@dataclass(frozen=True, slots=True)
class CanonicalQuantity:
    """The search value converted to its canonical UCUM unit (see gateway.search.ucum)."""

    code: str
    value: Decimal
    low: Decimal
    high: Decimal


@dataclass(frozen=True, slots=True)
class QuantityValue:
    prefix: Prefix
    value: Decimal
    low: Decimal
    high: Decimal
    system: str | None  # None: any system
    code: str | None  # None: any unit; with system None it matches code or unit text
    canonical: CanonicalQuantity | None
    text: str


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    type: str | None
    id: str | None
    url: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class UriValue:
    uri: str


@dataclass(frozen=True, slots=True)
class MissingValue:
    missing: bool


Value = (
    TokenValue
    | OfTypeValue
    | TextValue
    | StringValue
    | DateValue
    | NumberValue
    | QuantityValue
    | ReferenceValue
    | UriValue
    | MissingValue
)

Modifier = Literal[
    "missing", "exact", "contains", "not", "text", "of-type", "identifier", "type", "above", "below"
]


@dataclass(frozen=True, slots=True)
class Clause:
    """``param[:modifier]=v1,v2`` on the searched type: any value matches (OR).

    ``modifier`` ``"type"`` is the ``:[Type]`` modifier of references; the type is in
    ``target_type``. ``:identifier`` clauses carry :class:`TokenValue` and match the
    ``<param>:identifier`` token rows.
    """

    name: str
    param: str
    type: str
    modifier: Modifier | None
    values: tuple[Value, ...]
    target_type: str | None = None


@dataclass(frozen=True, slots=True)
class ChainTarget:
    target_type: str
    clause: Clause


@dataclass(frozen=True, slots=True)
class ChainClause:
    """``ref[:Type].param=…``: ``ref`` points to a ``target_type`` resource that
    matches ``clause`` (any of the candidate targets)."""

    name: str
    param: str
    targets: tuple[ChainTarget, ...]


@dataclass(frozen=True, slots=True)
class HasClause:
    """``_has:Source:ref:param=…``: some ``source_type`` resource whose ``reference_param``
    points to the candidate matches ``clause``."""

    name: str
    source_type: str
    reference_param: str
    clause: Clause


@dataclass(frozen=True, slots=True)
class ListClause:
    """``_list=id1,id2``: the resource is an item of one of these List resources."""

    name: str
    list_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CareDateClause:
    """``$everything``'s ``start``/``end``: the resource's care date overlaps
    ``[low, high)``, or it has none (see :mod:`gateway.search.care_dates`).

    ``params`` pairs each searched type that has a care date with the date parameter
    that holds it; a resource of any other type has no care date."""

    name: str
    low: int
    high: int
    params: tuple[tuple[str, str], ...]


Criterion = Clause | ChainClause | HasClause | ListClause | CareDateClause


@dataclass(frozen=True, slots=True)
class CompartmentConstraint:
    """``[base]/Patient/{id}/{type}``: restrict to one compartment instance.

    ``params`` gives, per searched type, the parameters linking it to the compartment.
    ``id`` ``None`` stands for every instance (``Patient/$everything``).
    """

    compartment: str
    id: str | None
    params: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class SortKey:
    param: str
    type: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Include:
    """``_include``/``_revinclude``: ``param`` ``None`` is the wildcard ``*``."""

    source_type: str
    param: str | None
    target_type: str | None
    iterate: bool
    reverse: bool


@dataclass(frozen=True, slots=True)
class IgnoredParameter:
    name: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class SearchRequest:
    resource_type: str | None
    types: tuple[str, ...]
    criteria: tuple[Criterion, ...] = ()
    compartment: CompartmentConstraint | None = None
    sort: tuple[SortKey, ...] = ()
    count: int = 50
    total: Total | None = None
    summary: Summary | None = None
    elements: tuple[str, ...] = ()
    includes: tuple[Include, ...] = ()
    revincludes: tuple[Include, ...] = ()
    format: str | None = None
    pretty: bool | None = None
    reserved: dict[str, str] = field(default_factory=dict)
    ignored: tuple[IgnoredParameter, ...] = ()
    warnings: tuple[Issue, ...] = ()

    def ignored_outcome_issues(self) -> list[Issue]:
        """Warnings for an OperationOutcome entry (``search.mode=outcome``).

        Each says what the omission means for the results: a warning a client may only
        log must still tell whoever reads it that an ignored filter did not filter."""
        issues = [
            Issue(
                "warning",
                "not-supported",
                f"Search parameter '{i.name}' was ignored: {i.reason}; {ignored_effect(i.name)}",
                (i.name,),
                "GW-1110",
            )
            for i in self.ignored
        ]
        return issues + list(self.warnings)


def ignored_effect(name: str) -> str:
    """What skipping the parameter ``name`` does to the results, for its warning."""
    control = name.partition(":")[0]
    if control == "_sort":
        return "the results are not sorted by it"
    if control in ("_include", "_revinclude"):
        return "no resources are included for it"
    if control in _RESULT_CONTROLS:
        return "the response is as if it were absent"
    return "the results are not filtered by it (they may include resources it would exclude)"


_RESULT_CONTROLS = frozenset(
    {"_count", "_total", "_summary", "_elements", "_contained", "_format", "_pretty", "_type"}
)
