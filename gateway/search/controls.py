"""Result parameters: ``_sort``, ``_count``, ``_total``, ``_summary``, ``_elements``,
``_include``/``_revinclude`` and ``_contained``.

Implements https://hl7.org/fhir/R4/search.html §3.1.1.6 (modifying search results)
and §3.1.1.7 (including other resources). Each parser takes the parameter as written
and raises an error naming it; the request parser enforces that controls other than
``_elements``, ``_include`` and ``_revinclude`` appear at most once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.errors import Issue
from gateway.search.criteria import resolve_param, split_name
from gateway.search.limits import SearchLimits
from gateway.search.problems import (
    COUNT_LOWERED,
    INVALID_CONTROL,
    LIMIT_EXCEEDED,
    UNSUPPORTED_MODIFIER,
    UNSUPPORTED_VALUE,
    invalid,
    shown,
    unsupported,
)
from gateway.search.query import Include, SortKey, Summary, Total
from gateway.search.registry import SearchRegistry

SORTABLE = frozenset({"string", "token", "date", "number", "quantity", "reference", "uri"})
TOTALS = ("none", "estimate", "accurate")
SUMMARIES = ("true", "false", "text", "data", "count")
_COUNT = re.compile(r"^\d{1,9}$")
_ELEMENT = re.compile(r"^(?:([A-Z][A-Za-z]*)\.)?([a-z][A-Za-z0-9]*)$")


def parse_sort(
    registry: SearchRegistry, name: str, value: str, types: Sequence[str], limits: SearchLimits
) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for raw in value.split(","):
        descending = raw.startswith("-")
        code = raw[1:] if descending else raw
        if not code:
            raise invalid(name, f"_sort has an empty key in '{shown(value)}'", INVALID_CONTROL)
        if ":" in code:
            raise unsupported(
                name, f"_sort does not take modifiers ('{shown(code)}')", UNSUPPORTED_MODIFIER
            )
        param = resolve_param(registry, name, code, types)
        if param.type not in SORTABLE:
            raise unsupported(
                name, f"Cannot sort on {param.type} parameter '{code}'", UNSUPPORTED_VALUE
            )
        keys.append(SortKey(code, param.type, descending))
    if len(keys) > limits.max_sort_keys:
        raise invalid(
            name, f"_sort has {len(keys)} keys; the limit is {limits.max_sort_keys}", LIMIT_EXCEEDED
        )
    return tuple(keys)


def parse_count(
    name: str, value: str, limits: SearchLimits, *, lenient: bool = False
) -> tuple[int, Issue | None]:
    """The page size. Above the maximum: 400 when strict; lowered, with a warning to
    report, when lenient."""
    if not _COUNT.match(value):
        raise invalid(
            name, f"_count must be a non-negative integer, not '{shown(value)}'", INVALID_CONTROL
        )
    count = int(value)
    if count > limits.max_count:
        if not lenient:
            raise invalid(
                name,
                f"_count={count} exceeds the maximum page size of {limits.max_count}",
                LIMIT_EXCEEDED,
            )
        warning = Issue(
            "warning",
            "informational",
            f"_count={count} is above the maximum page size; {limits.max_count} is used",
            (name,),
            COUNT_LOWERED,
        )
        return limits.max_count, warning
    return count, None


def parse_total(name: str, value: str) -> Total:
    if value not in TOTALS:
        raise invalid(
            name,
            f"_total must be one of {', '.join(TOTALS)}, not '{shown(value)}'",
            INVALID_CONTROL,
        )
    return value  # type: ignore[return-value]


def total_mode(total: Total | None, count: int, summary: Summary | None = None) -> Total | None:
    """The ``Bundle.total`` a search owes: ``_summary=count`` asks for the total alone;
    so does ``_count=0``, unless ``_total`` says otherwise
    (https://hl7.org/fhir/R4/search.html#count). ``None``: a total only when it is
    known for free (a first page that holds every match)."""
    if summary == "count" or (count == 0 and total is None):
        return "accurate"
    return total


def parse_summary(name: str, value: str) -> Summary:
    if value not in SUMMARIES:
        raise invalid(
            name,
            f"_summary must be one of {', '.join(SUMMARIES)}, not '{shown(value)}'",
            INVALID_CONTROL,
        )
    return value  # type: ignore[return-value]


def parse_elements(
    registry: SearchRegistry, name: str, value: str, types: Sequence[str]
) -> tuple[str, ...]:
    """Top-level element names (``name`` or ``Patient.name``) of at least one searched type."""
    out: list[str] = []
    for raw in value.split(","):
        m = _ELEMENT.match(raw.strip())
        if m is None:
            raise invalid(name, f"'{shown(raw)}' is not an element name", INVALID_CONTROL)
        owner, element = m.group(1), m.group(2)
        scope = [owner] if owner else types
        if owner and owner not in types:
            raise invalid(name, f"'{owner}' is not a searched type (in _elements)", INVALID_CONTROL)
        if not any(element in registry.elements.element_names(t) for t in scope):
            raise invalid(
                name, f"'{element}' is not an element of {' or '.join(scope[:5])}", INVALID_CONTROL
            )
        out.append(element)
    return tuple(dict.fromkeys(out))


def parse_include(registry: SearchRegistry, name: str, value: str, types: Sequence[str]) -> Include:
    """``Source:param[:Target]``, ``Source:*`` or ``*``; modifiers ``:iterate``
    (and ``:recurse``, its R3 name)."""
    control, modifier = split_name(name)
    reverse = control == "_revinclude"
    if modifier not in (None, "iterate", "recurse"):
        raise unsupported(
            name,
            f"Modifier ':{shown(modifier or '')}' is not valid on {control}",
            UNSUPPORTED_MODIFIER,
        )
    iterate = modifier is not None
    if value == "*":
        return Include("*", None, None, iterate, reverse)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise invalid(
            name,
            f"'{shown(value)}' is not of the form Type:parameter[:targetType]",
            INVALID_CONTROL,
        )
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    if not registry.is_resource_type(source):
        raise invalid(name, f"'{shown(source)}' is not a resource type", INVALID_CONTROL)
    if not reverse and not iterate and source not in types:
        raise invalid(
            name,
            f"_include must start from the searched type, not {source} (use :iterate)",
            INVALID_CONTROL,
        )
    if target is not None and not registry.is_resource_type(target):
        raise invalid(name, f"'{shown(target)}' is not a resource type", INVALID_CONTROL)
    if code == "*":
        if target is not None:
            raise invalid(name, "A wildcard include takes no target type", INVALID_CONTROL)
        return Include(source, None, None, iterate, reverse)
    param = resolve_param(registry, name, code, [source])
    if param.type != "reference":
        raise invalid(name, f"'{code}' of {source} is not a reference parameter", INVALID_CONTROL)
    if target is not None and param.targets and target not in param.targets:
        raise invalid(name, f"{target} is not a target type of {source}:{code}", INVALID_CONTROL)
    if reverse and not iterate and param.targets and not any(t in param.targets for t in types):
        raise invalid(
            name, f"{source}:{code} does not point to {' or '.join(types[:5])}", INVALID_CONTROL
        )
    return Include(source, code, target, iterate, reverse)


def check_contained(name: str, value: str) -> None:
    """Only the default, ``_contained=false``, is served."""
    if value not in ("false", "true", "both"):
        raise invalid(
            name, f"_contained must be true, false or both, not '{shown(value)}'", INVALID_CONTROL
        )
    if value != "false":
        raise unsupported(
            name,
            f"{name}={shown(value)}: searching contained resources is not supported",
            UNSUPPORTED_VALUE,
        )
