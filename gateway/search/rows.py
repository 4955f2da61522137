"""Search index rows: what :func:`gateway.search.extract` produces from one resource.

One dataclass per search parameter type (R4 search page, §3.1.1.x). Storage writes
them to one table per type. Values are already normalised for matching:

- strings: ``norm`` is case-folded and accent-stripped (prefix and ``:contains``
  matching), ``exact`` is the value as given (``:exact``);
- dates: ``low`` inclusive and ``high`` exclusive, both in microseconds since the Unix
  epoch (UTC), so a partial date ``2020-03`` covers the whole month;
- numbers and quantities: the value and its implicit precision range ``[low, high)``;
- references: the target split into type and id for local references, or the
  absolute URL otherwise.

Derived parameter names (rows that serve a modifier rather than the parameter itself):

- ``<param>:identifier`` (token rows): ``Reference.identifier`` of a reference
  parameter, for ``subject:identifier=system|value``;
- ``<param>:of-type`` (token rows): for each ``Identifier.type`` coding of a token
  parameter, ``system`` = the type's code system and ``code`` = ``"<type code>|<value>"``,
  for ``identifier:of-type=system|code|value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_INSTANT = -(2**62)
MAX_INSTANT = 2**62


@dataclass(frozen=True, slots=True)
class TokenRow:
    param: str
    system: str | None
    code: str | None
    text: str | None = None  # normalised display / text for :text


@dataclass(frozen=True, slots=True)
class StringRow:
    param: str
    norm: str
    exact: str


@dataclass(frozen=True, slots=True)
class DateRow:
    param: str
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    param: str
    target_type: str | None
    target_id: str | None
    url: str | None = None  # absolute, canonical or logical reference when not local
    version: str | None = None  # the ``|version`` of a canonical reference (url without it)


@dataclass(frozen=True, slots=True)
class QuantityRow:
    param: str
    value: float
    low: float
    high: float
    system: str | None
    code: str | None
    unit: str | None = None
    # True for the extra row in the canonical UCUM unit (see gateway.search.ucum); a
    # search without a unit must ignore these rows or it would match converted values.
    canonical: bool = False


@dataclass(frozen=True, slots=True)
class NumberRow:
    param: str
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class UriRow:
    param: str
    uri: str


@dataclass(slots=True)
class IndexRows:
    """All index rows of one resource version."""

    tokens: list[TokenRow] = field(default_factory=list)
    strings: list[StringRow] = field(default_factory=list)
    dates: list[DateRow] = field(default_factory=list)
    references: list[ReferenceRow] = field(default_factory=list)
    quantities: list[QuantityRow] = field(default_factory=list)
    numbers: list[NumberRow] = field(default_factory=list)
    uris: list[UriRow] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.tokens)
            + len(self.strings)
            + len(self.dates)
            + len(self.references)
            + len(self.quantities)
            + len(self.numbers)
            + len(self.uris)
        )
