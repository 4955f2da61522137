"""Parsing one search criterion: ``param[:modifier][.chained[:modifier]]=v1,v2``.

Implements https://hl7.org/fhir/R4/search.html §3.1.1.4 (modifiers), §3.1.1.5 (the
types), §3.1.1.4.13 (chained parameters, one level) and §3.1.1.4.14 (``_has``, one
level). Each function raises an error naming the parameter as written; see
:mod:`gateway.search.problems` for which are 400 ``not-supported``, which are 400
``invalid``, and which of them lenient handling may skip (an unknown parameter or
modifier, never a value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.errors import GatewayError
from gateway.search.limits import SearchLimits
from gateway.search.problems import (
    LIMIT_EXCEEDED,
    UNSUPPORTED_CHAIN,
    UNSUPPORTED_MODIFIER,
    invalid,
    shown,
    unsupported,
)
from gateway.search.query import ChainClause, ChainTarget, Clause, HasClause, Modifier, Value
from gateway.search.registry import SearchRegistry
from gateway.search.values import (
    InvalidValue,
    parse_date,
    parse_missing,
    parse_number,
    parse_of_type,
    parse_quantity,
    parse_reference,
    parse_string,
    parse_text,
    parse_token,
    parse_uri,
    split_unescaped,
)

_MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"missing", "exact", "contains"}),
    "token": frozenset({"missing", "not", "text", "of-type"}),
    "date": frozenset({"missing"}),
    "number": frozenset({"missing"}),
    "quantity": frozenset({"missing"}),
    "reference": frozenset({"missing", "identifier"}),
    "uri": frozenset({"missing", "above", "below"}),
}
_WHY_NOT = {
    "in": "value-set modifiers need a terminology server",
    "not-in": "value-set modifiers need a terminology server",
    "above": "subsumption needs a terminology server",
    "below": "subsumption needs a terminology server",
}


@dataclass(frozen=True, slots=True)
class ResolvedParam:
    """A parameter code resolved on every type in scope (they must agree on its type)."""

    code: str
    type: str
    targets: tuple[str, ...]
    value_types: frozenset[str]


def resolve_param(
    registry: SearchRegistry, name: str, code: str, types: Sequence[str]
) -> ResolvedParam:
    """The served parameter ``code`` of every type in ``types``, or an error naming ``name``."""
    found = []
    for rtype in types:
        bound = registry.get(rtype, code)
        if bound is None:
            where = rtype if len(types) == 1 else f"{rtype} (one of the searched types)"
            raise unsupported(name, f"Unknown search parameter '{shown(code)}' for {where}")
        if not bound.served:
            raise unsupported(
                name, f"Search parameter '{code}' of {rtype} is not supported: {bound.reason}"
            )
        found.append(bound)
    kinds = {b.type for b in found}
    if len(kinds) != 1:
        raise unsupported(
            name, f"Search parameter '{code}' has different types across the searched types"
        )
    targets: dict[str, None] = {}
    value_types: set[str] = set()
    for b in found:
        targets.update(dict.fromkeys(b.targets))
        value_types |= b.value_types
    return ResolvedParam(code, found[0].type, tuple(targets), frozenset(value_types))


def split_name(name: str) -> tuple[str, str | None]:
    code, sep, modifier = name.partition(":")
    return code, (modifier if sep else None)


def parse_clause(
    registry: SearchRegistry,
    name: str,
    value: str,
    types: Sequence[str],
    limits: SearchLimits,
    tz: ZoneInfo,
    *,
    shown_name: str | None = None,
) -> Clause:
    """A plain (unchained) criterion on ``types``. ``shown_name`` is the full name as
    written, for errors inside chains and ``_has``."""
    label = shown_name or name
    code, modifier = split_name(name)
    param = resolve_param(registry, label, code, types)
    kind, target_type = _check_modifier(registry, label, param, modifier)
    raw_values = split_unescaped(value, ",")
    if len(raw_values) > limits.max_or_values:
        raise invalid(
            label,
            f"Search parameter '{shown(label)}' has {len(raw_values)} values; "
            f"the limit is {limits.max_or_values}",
            LIMIT_EXCEEDED,
        )
    values: list[Value] = []
    for raw in raw_values:
        if raw == "":
            raise invalid(
                label, f"Search parameter '{shown(label)}' has an empty value in '{shown(value)}'"
            )
        try:
            values.append(_parse_value(registry, param, kind, target_type, raw, tz))
        except InvalidValue as exc:
            raise invalid(
                label, f"Invalid value for search parameter '{shown(label)}': {exc}"
            ) from None
    return Clause(label, code, param.type, kind, tuple(values), target_type)


def _check_modifier(
    registry: SearchRegistry, name: str, param: ResolvedParam, modifier: str | None
) -> tuple[Modifier | None, str | None]:
    if modifier is None:
        return None, None
    if param.type == "reference" and registry.is_resource_type(modifier):
        if param.targets and modifier not in param.targets:
            raise unsupported(
                name,
                f"'{modifier}' is not a target type of search parameter '{param.code}' "
                f"({', '.join(param.targets)})",
                UNSUPPORTED_MODIFIER,
            )
        return "type", modifier
    allowed = _MODIFIERS.get(param.type, frozenset())
    if modifier not in allowed:
        why = _WHY_NOT.get(modifier, "not a modifier of this parameter type")
        raise unsupported(
            name,
            f"Modifier ':{shown(modifier)}' is not supported on {param.type} parameter "
            f"'{param.code}' ({why})",
            UNSUPPORTED_MODIFIER,
        )
    if modifier == "of-type" and "Identifier" not in param.value_types:
        raise unsupported(
            name,
            f"Modifier ':of-type' needs an Identifier parameter; '{param.code}' is not one",
            UNSUPPORTED_MODIFIER,
        )
    return modifier, None  # type: ignore[return-value]


def _parse_value(
    registry: SearchRegistry,
    param: ResolvedParam,
    modifier: Modifier | None,
    target_type: str | None,
    raw: str,
    tz: ZoneInfo,
) -> Value:
    if modifier == "missing":
        return parse_missing(raw)
    kind = param.type
    if kind == "string":
        return parse_string(raw)
    if kind == "token":
        if modifier == "text":
            return parse_text(raw)
        if modifier == "of-type":
            return parse_of_type(raw)
        return parse_token(raw)
    if kind == "date":
        return parse_date(raw, tz)
    if kind == "number":
        return parse_number(raw)
    if kind == "quantity":
        return parse_quantity(raw)
    if kind == "reference":
        if modifier == "identifier":
            return parse_token(raw)
        return parse_reference(
            raw,
            targets=param.targets,
            type_modifier=target_type,
            resource_types=registry.resource_types,
        )
    return parse_uri(raw)


def parse_chain(
    registry: SearchRegistry,
    name: str,
    value: str,
    types: Sequence[str],
    limits: SearchLimits,
    tz: ZoneInfo,
) -> ChainClause:
    """``ref[:Type].inner[:modifier]=…`` with a single level of chaining."""
    head, _, inner = name.partition(".")
    if "." in inner:
        raise unsupported(
            name,
            f"'{shown(name)}': chained parameters are supported one level deep only",
            UNSUPPORTED_CHAIN,
        )
    if not inner:
        raise unsupported(name, f"Unknown search parameter '{shown(name)}'")
    code, modifier = split_name(head)
    param = resolve_param(registry, name, code, types)
    if param.type != "reference":
        raise unsupported(
            name,
            f"Only reference parameters can be chained; '{code}' is {param.type}",
            UNSUPPORTED_CHAIN,
        )
    if modifier is not None and not registry.is_resource_type(modifier):
        raise unsupported(
            name, f"Modifier ':{shown(modifier)}' cannot start a chain", UNSUPPORTED_MODIFIER
        )
    if modifier is not None and param.targets and modifier not in param.targets:
        raise unsupported(
            name, f"'{modifier}' is not a target type of '{code}'", UNSUPPORTED_MODIFIER
        )
    candidates = [modifier] if modifier else list(param.targets or sorted(registry.resource_types))
    inner_code = split_name(inner)[0]
    usable = [t for t in candidates if (b := registry.get(t, inner_code)) is not None and b.served]
    if not usable:
        listed = " or ".join(candidates[:5]) + ("…" if len(candidates) > 5 else "")
        raise unsupported(
            name,
            f"'{shown(inner_code)}' is not a supported search parameter of {listed} "
            f"(chained from '{code}')",
        )
    targets = []
    first_error: Exception | None = None
    for rtype in usable:
        try:
            clause = parse_clause(registry, inner, value, [rtype], limits, tz, shown_name=name)
        except GatewayError as exc:  # the inner type may not accept the value; try others
            first_error = first_error or exc
            continue
        targets.append(ChainTarget(rtype, clause))
    if not targets:
        assert first_error is not None
        raise first_error
    return ChainClause(name, code, tuple(targets))


def parse_has(
    registry: SearchRegistry,
    name: str,
    value: str,
    types: Sequence[str],
    limits: SearchLimits,
    tz: ZoneInfo,
) -> HasClause:
    """``_has:Source:reference:inner[:modifier]=…`` (reverse chaining, one level)."""
    parts = name.split(":", 3)
    if len(parts) < 4 or not all(parts[1:]):
        raise invalid(name, f"'{shown(name)}' is not of the form _has:Type:reference:parameter")
    _, source, ref_code, inner = parts
    if not registry.is_resource_type(source):
        raise unsupported(
            name,
            f"'{shown(source)}' is not a resource type (in '{shown(name)}')",
            UNSUPPORTED_CHAIN,
        )
    if inner.startswith("_has") or "." in inner:
        raise unsupported(
            name, "Only one level of _has, without chaining, is supported", UNSUPPORTED_CHAIN
        )
    ref = resolve_param(registry, name, ref_code, [source])
    if ref.type != "reference":
        raise unsupported(
            name, f"'{ref_code}' of {source} is not a reference parameter", UNSUPPORTED_CHAIN
        )
    if ref.targets and not any(t in ref.targets for t in types):
        raise unsupported(
            name,
            f"'{ref_code}' of {source} does not point to {' or '.join(types[:5])}",
            UNSUPPORTED_CHAIN,
        )
    clause = parse_clause(registry, inner, value, [source], limits, tz, shown_name=name)
    return HasClause(name, source, ref_code, clause)
