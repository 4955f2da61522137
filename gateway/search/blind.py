"""What the index rows hold in clear, and the keyed hashes of the rest (a blind index).

Issue 9, "search without exposing content". Two classes of values leave the clear:

- **identifiers** (``hash_identifiers``, default on): the ``code`` of every token row of a
  parameter whose values are ``Identifier`` (``identifier``, ``accession``,
  ``requisition``…), of every ``<param>:identifier`` row (``Reference.identifier``), and
  the value half of every ``<param>:of-type`` row. The ``system`` stays clear, so
  ``system|``, ``:of-type`` and ``:missing`` work; the value is hashed alone, exactly
  as written (identifier values are case-sensitive), so ``identifier=value`` without a
  system still matches. ``:text`` on an identifier keeps working: it matches
  ``Identifier.type.text`` (https://hl7.org/fhir/R4/search.html#token), vocabulary that
  stays clear. ``_sort`` on such a parameter is refused: digests have no useful order.
- **person names** (``clear_names=false``; default: kept clear): the rows of ``string``
  parameters over ``HumanName`` (``name``, ``phonetic``) or its parts (``family``,
  ``given``), and :data:`EXTRA_NAME_PARAMS`. ``norm`` holds the digest of the
  normalised form, ``exact`` that of the value as written, so the default search
  matches a whole normalised name and ``:exact`` a whole written one; ``:contains`` and
  ``_sort`` are refused, and a prefix no longer matches.

Coded values (LOINC, SNOMED CT…) stay clear: they are vocabulary, not identity.
Index rows (:meth:`BlindIndex.apply`) and search values (:func:`blind_request`) go
through the same digests, so they always agree. Extension-valued parameters whose
type is only known per value (``Device.din``) are not classified and stay clear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from gateway.errors import GatewayError
from gateway.search.compiler import Getter
from gateway.search.problems import (
    INVALID_CONTROL,
    UNSUPPORTED_MODIFIER,
    ignorable,
    invalid,
    unsupported,
)
from gateway.search.query import (
    ChainClause,
    ChainTarget,
    Clause,
    Criterion,
    HasClause,
    IgnoredParameter,
    OfTypeValue,
    SearchRequest,
    SortKey,
    StringValue,
    TokenValue,
    Value,
)
from gateway.search.registry import SearchRegistry
from gateway.search.rows import IndexRows, StringRow, TokenRow

Hasher = Callable[[str], str]

# Names held in extensions, whose type the registry only learns per value.
EXTRA_NAME_PARAMS = frozenset({("Patient", "mothersMaidenName")})
_OF_TYPE = ":of-type"
_IDENTIFIER = ":identifier"


SUBSCRIPTION_OWNER_TAG = "https://dmp-gateway.fr/fhir/CodeSystem/subscription-owner"
PRIVATE_TAG_SYSTEMS = frozenset({SUBSCRIPTION_OWNER_TAG})
"""``meta.tag`` systems the gateway sets for itself and never searches: the subscription
owner's token facts (which may name a patient's INS). They are kept out of the index."""


class BlindIndex:
    """Per resource type, which parameters are hashed; the digests themselves.

    ``identifiers`` and ``names`` are the hashers (:class:`gateway.crypto.IndexHasher`
    under two purposes), ``None`` for values kept clear. Immutable and thread-safe.
    """

    def __init__(
        self,
        registry: SearchRegistry,
        *,
        identifiers: Hasher | None,
        names: Hasher | None,
    ) -> None:
        self._identifiers = identifiers
        self._names = names
        self._id_params: dict[str, frozenset[str]] = {}
        self._name_params: dict[str, frozenset[str]] = {}
        # Per type, the ``param`` of every token row whose code is hashed whole, and of
        # the ``:of-type`` rows whose value half is: one set lookup per row on writes.
        self._whole: dict[str, frozenset[str]] = {}
        self._of_type: dict[str, frozenset[str]] = {}
        for rtype in registry.resource_types:
            ids, nms, refs = set(), set(), set()
            for bound in registry.served(rtype):
                if bound.type == "token" and "Identifier" in bound.value_types:
                    ids.add(bound.code)
                elif bound.type == "reference":
                    refs.add(bound.code + _IDENTIFIER)
                elif bound.type == "string" and _is_name(registry, rtype, bound.code):
                    nms.add(bound.code)
            self._id_params[rtype] = frozenset(ids)
            self._name_params[rtype] = frozenset(nms)
            self._whole[rtype] = frozenset(ids | refs)
            self._of_type[rtype] = frozenset(code + _OF_TYPE for code in ids)

    @classmethod
    def clear(cls, registry: SearchRegistry) -> BlindIndex:
        """Nothing hashed (tests of search semantics, and the behaviour before issue 9)."""
        return cls(registry, identifiers=None, names=None)

    @property
    def hashes_identifiers(self) -> bool:
        return self._identifiers is not None

    @property
    def hashes_names(self) -> bool:
        return self._names is not None

    def identifier(self, value: str) -> str:
        """How the index stores the identifier value ``value``."""
        return self._identifiers(value) if self._identifiers is not None else value

    def name(self, value: str) -> str:
        """How the index stores a (normalised or exact) name."""
        return self._names(value) if self._names is not None else value

    def is_identifier(self, resource_type: str, code: str) -> bool:
        """Whether ``code`` of ``resource_type`` is stored as hashes."""
        return self._identifiers is not None and code in self._id_params.get(resource_type, ())

    def is_name(self, resource_type: str, code: str) -> bool:
        return self._names is not None and code in self._name_params.get(resource_type, ())

    # -- index rows ---------------------------------------------------------------------

    def apply(self, resource_type: str, rows: IndexRows) -> None:
        """Replace, in place, the clear values of ``rows`` that must be hashed."""
        digest = self._identifiers
        if digest is not None and rows.tokens:
            whole = self._whole.get(resource_type, frozenset())
            of_type = self._of_type.get(resource_type, frozenset())
            tokens = rows.tokens
            for i, t in enumerate(tokens):
                param, code = t.param, t.code
                if code is None:
                    continue
                if param in whole:
                    tokens[i] = TokenRow(param, t.system, digest(code), t.text)
                elif param in of_type:
                    type_code, _, value = code.partition("|")
                    tokens[i] = TokenRow(param, t.system, f"{type_code}|{digest(value)}", t.text)
        name = self._names
        if name is not None and rows.strings:
            names = self._name_params.get(resource_type, frozenset())
            if names:
                rows.strings = [
                    StringRow(s.param, name(s.norm), name(s.exact)) if s.param in names else s
                    for s in rows.strings
                ]


def _is_name(registry: SearchRegistry, rtype: str, code: str) -> bool:
    if (rtype, code) in EXTRA_NAME_PARAMS:
        return True
    bound = registry.get(rtype, code)
    if bound is None:
        return False
    if "HumanName" in bound.value_types:
        return True
    for ex in bound.extractors:
        getter = ex.getter
        if isinstance(getter, Getter) and getter.ops and isinstance(getter.ops[0], str):
            found = registry.elements.children(rtype, getter.ops[0])
            if found and any(c.type == "HumanName" for c in found):
                return True
    return False


# -- search requests --------------------------------------------------------------------


def blind_request(request: SearchRequest, blind: BlindIndex, *, lenient: bool) -> SearchRequest:
    """``request`` with its identifier (and hidden name) values hashed like the index.

    A criterion the hashes cannot answer (``:contains`` on a hashed name) and ``_sort``
    on a hashed parameter are a 400 naming the parameter, or, with ``lenient``, ignored
    with a warning like any other unsupported parameter.
    """
    if not blind.hashes_identifiers and not blind.hashes_names:
        return request
    criteria: list[Criterion] = []
    ignored = list(request.ignored)
    for criterion in request.criteria:
        try:
            criteria.append(_criterion(criterion, request.types, blind))
        except GatewayError as exc:
            if not lenient or not ignorable(exc):
                raise
            ignored.append(IgnoredParameter(criterion.name, "", exc.diagnostics))
    sort: tuple[SortKey, ...] = request.sort
    for key in sort:
        if any(_hashed(blind, t, key.param) for t in request.types):
            err = invalid(
                "_sort",
                f"Cannot sort on '{key.param}': its values are stored as keyed hashes "
                "(see 'What the index holds' in the README)",
                INVALID_CONTROL,
            )
            if not lenient:
                raise err
            ignored.append(IgnoredParameter("_sort", key.param, err.diagnostics))
            sort = ()
            break
    return replace(request, criteria=tuple(criteria), sort=sort, ignored=tuple(ignored))


def _hashed(blind: BlindIndex, rtype: str, code: str) -> bool:
    return blind.is_identifier(rtype, code) or blind.is_name(rtype, code)


def _criterion(criterion: Criterion, types: tuple[str, ...], blind: BlindIndex) -> Criterion:
    if isinstance(criterion, Clause):
        return _clause(criterion, types, blind)
    if isinstance(criterion, ChainClause):
        targets = tuple(
            ChainTarget(t.target_type, _clause(t.clause, (t.target_type,), blind))
            for t in criterion.targets
        )
        return replace(criterion, targets=targets)
    if isinstance(criterion, HasClause):
        return replace(criterion, clause=_clause(criterion.clause, (criterion.source_type,), blind))
    return criterion


def _clause(clause: Clause, types: tuple[str, ...], blind: BlindIndex) -> Clause:
    modifier = clause.modifier
    if modifier == "missing":
        return clause
    if clause.type == "reference":
        if modifier == "identifier" and blind.hashes_identifiers:
            return replace(clause, values=tuple(_token(v, blind) for v in clause.values))
        return clause
    if clause.type == "token" and any(blind.is_identifier(t, clause.param) for t in types):
        if modifier == "text":  # Identifier.type.text: vocabulary, clear
            return clause
        return replace(clause, values=tuple(_token(v, blind) for v in clause.values))
    if clause.type == "string" and any(blind.is_name(t, clause.param) for t in types):
        if modifier == "contains":
            raise unsupported(
                clause.name,
                f"'{clause.name}' cannot be searched by substring: names are stored as keyed "
                "hashes (GATEWAY_CRYPTO__CLEAR_NAMES=false); search the whole name",
                UNSUPPORTED_MODIFIER,
            )
        return replace(clause, values=tuple(_name(v, blind) for v in clause.values))
    return clause


def _token(value: Value, blind: BlindIndex) -> Value:
    if isinstance(value, TokenValue) and value.code is not None:
        return TokenValue(value.system, blind.identifier(value.code))
    if isinstance(value, OfTypeValue):
        return OfTypeValue(value.type_system, value.type_code, blind.identifier(value.value))
    return value


def _name(value: Value, blind: BlindIndex) -> Value:
    if isinstance(value, StringValue):
        return StringValue(blind.name(value.text), blind.name(value.norm))
    return value


__all__ = ["EXTRA_NAME_PARAMS", "BlindIndex", "blind_request"]
