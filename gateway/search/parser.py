"""``parse_search``: a search request's parameters → a typed :class:`SearchRequest`.

Strict by default (https://hl7.org/fhir/R4/search.html#errors): an unknown or
unsupported parameter, modifier or chain raises
:class:`~gateway.errors.UnsupportedParameter` naming it. With lenient handling
(``Prefer: handling=lenient``) those parameters are skipped and listed in
:attr:`SearchRequest.ignored`. The value of a served parameter is never skipped: a
malformed one (unknown prefix, bad date, number, token…), one the gateway cannot
honour (a functional ``_list``) and exceeded limits are 400 in both modes (see
:mod:`gateway.search.problems`). A parameter with an empty value (``name=``) is
skipped and listed as ignored.

``POST [type]/_search`` passes the form fields here exactly like a GET's query, and
``[base]/Patient/{id}/{type}`` passes ``compartment=("Patient", id)``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from gateway.errors import Issue, UnsupportedParameter
from gateway.search import controls
from gateway.search.criteria import parse_chain, parse_clause, parse_has
from gateway.search.extract import default_tz
from gateway.search.limits import SearchLimits
from gateway.search.problems import (
    INVALID_CONTROL,
    LIMIT_EXCEEDED,
    UNKNOWN_TYPE,
    UNSUPPORTED_VALUE,
    ignorable,
    invalid,
    shown,
    unsupported,
)
from gateway.search.query import (
    CompartmentConstraint,
    Criterion,
    IgnoredParameter,
    Include,
    ListClause,
    SearchRequest,
    SortKey,
    Summary,
    Total,
)
from gateway.search.registry import SearchRegistry

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_NOT_SERVED = {
    "_text": "full-text search (_text) is not supported",
    "_content": "full-text search (_content) is not supported",
    "_query": "named queries (_query) are not supported",
    "_filter": "the _filter syntax is not supported",
    "_containedType": "searching contained resources is not supported",
}
_SINGLE = frozenset(
    {"_sort", "_count", "_total", "_summary", "_contained", "_format", "_pretty", "_type"}
)


@dataclass(slots=True)
class _Builder:
    criteria: list[Criterion] = field(default_factory=list)
    sort: tuple[SortKey, ...] = ()
    count: int | None = None
    total: Total | None = None
    summary: Summary | None = None
    elements: list[str] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    format: str | None = None
    pretty: bool | None = None
    reserved: dict[str, str] = field(default_factory=dict)
    ignored: list[IgnoredParameter] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    lenient: bool = False


def parse_search(
    resource_type: str | None,
    params: Sequence[tuple[str, str]],
    registry: SearchRegistry,
    *,
    lenient: bool = False,
    limits: SearchLimits | None = None,
    tz: ZoneInfo | None = None,
    compartment: tuple[str, str] | None = None,
    reserved: Collection[str] = (),
) -> SearchRequest:
    """Parse and validate a search.

    ``resource_type`` ``None`` is a search across types (``[base]?…``, or
    ``Patient/{id}/*`` with ``compartment``). ``reserved`` names parameters that belong
    to the caller (such as a paging cursor): they are returned untouched in
    :attr:`SearchRequest.reserved`. ``tz`` (default Europe/Paris) is the zone of date
    values written without a UTC offset.
    """
    limits = limits or SearchLimits()
    zone = tz or default_tz()
    if len(params) > limits.max_params:
        raise invalid(
            None,
            f"The search has {len(params)} parameters; the limit is {limits.max_params}",
            LIMIT_EXCEEDED,
        )
    if resource_type is not None and not registry.is_resource_type(resource_type):
        raise invalid(
            resource_type, f"Unknown resource type '{shown(resource_type)}'", UNKNOWN_TYPE
        )
    out = _Builder(lenient=lenient)
    seen: set[str] = set()
    types = _scope(resource_type, params, registry, compartment)
    for name, value in params:
        if len(value) > limits.max_value_length or len(name) > limits.max_value_length:
            raise invalid(
                name,
                f"Search parameter '{shown(name)}' is longer than {limits.max_value_length}",
                LIMIT_EXCEEDED,
            )
        if name in reserved:
            out.reserved[name] = value
            continue
        if value == "":
            out.ignored.append(IgnoredParameter(name, value, "empty value"))
            continue
        control = name.partition(":")[0]
        if control in _SINGLE and control in seen:
            raise invalid(name, f"'{control}' may appear only once", INVALID_CONTROL)
        try:
            _one(registry, name, value, resource_type, types, limits, zone, out)
        except UnsupportedParameter as exc:
            if not lenient or not ignorable(exc):
                raise
            out.ignored.append(IgnoredParameter(name, value, exc.diagnostics))
            continue
        if control in _SINGLE:
            seen.add(control)
    if len(out.includes) + len(out.revincludes) > limits.max_includes:
        raise invalid(
            "_include",
            f"The search has {len(out.includes) + len(out.revincludes)} _include/_revinclude; "
            f"the limit is {limits.max_includes}",
            LIMIT_EXCEEDED,
        )
    return SearchRequest(
        resource_type=resource_type,
        types=tuple(types),
        criteria=tuple(out.criteria),
        compartment=_compartment(registry, compartment, types),
        sort=out.sort,
        count=limits.default_count if out.count is None else out.count,
        total=out.total,
        summary=out.summary,
        elements=tuple(dict.fromkeys(out.elements)),
        includes=tuple(out.includes),
        revincludes=tuple(out.revincludes),
        format=out.format,
        pretty=out.pretty,
        reserved=out.reserved,
        ignored=tuple(out.ignored),
        warnings=tuple(out.warnings),
    )


def _scope(
    resource_type: str | None,
    params: Sequence[tuple[str, str]],
    registry: SearchRegistry,
    compartment: tuple[str, str] | None,
) -> list[str]:
    """The resource types searched: the type, ``_type``, or the compartment's types."""
    if compartment is not None:
        ctype, cid = compartment
        if ctype not in registry.compartments():
            raise invalid(ctype, f"'{shown(ctype)}' is not a supported compartment", UNKNOWN_TYPE)
        if not _ID.match(cid):
            raise invalid(ctype, f"'{shown(cid)}' is not a valid {ctype} id", UNKNOWN_TYPE)
        members = registry.compartment_types(ctype) | {ctype}
        if resource_type is not None and resource_type not in members:
            raise invalid(
                resource_type, f"{resource_type} is not in the {ctype} compartment", UNKNOWN_TYPE
            )
    type_values = [v for n, v in params if n == "_type" and v]
    if resource_type is not None:
        return [resource_type]
    if type_values:
        types = []
        for raw in type_values[0].split(","):
            if not registry.is_resource_type(raw):
                raise invalid("_type", f"'{shown(raw)}' is not a resource type", UNKNOWN_TYPE)
            types.append(raw)
        if compartment is not None:
            members = registry.compartment_types(compartment[0]) | {compartment[0]}
            outside = [t for t in types if t not in members]
            if outside:
                raise invalid(
                    "_type",
                    f"{outside[0]} is not in the {compartment[0]} compartment",
                    UNKNOWN_TYPE,
                )
        return list(dict.fromkeys(types))
    if compartment is not None:
        return sorted(registry.compartment_types(compartment[0]) | {compartment[0]})
    return sorted(registry.resource_types)


def _compartment(
    registry: SearchRegistry, compartment: tuple[str, str] | None, types: Sequence[str]
) -> CompartmentConstraint | None:
    if compartment is None:
        return None
    ctype, cid = compartment
    return CompartmentConstraint(
        ctype, cid, {t: registry.compartment_params(ctype, t) for t in types}
    )


def _one(
    registry: SearchRegistry,
    name: str,
    value: str,
    resource_type: str | None,
    types: list[str],
    limits: SearchLimits,
    tz: ZoneInfo,
    out: _Builder,
) -> None:
    control, _, modifier = name.partition(":")
    if control in ("_include", "_revinclude"):
        include = controls.parse_include(registry, name, value, types)
        (out.revincludes if include.reverse else out.includes).append(include)
        return
    if control == "_has":
        out.criteria.append(parse_has(registry, name, value, types, limits, tz))
        return
    if (
        modifier
        and control.startswith("_")
        and control
        not in ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_list")
    ):
        raise unsupported(name, f"'{shown(control)}' does not take modifiers")
    if control == "_sort":
        out.sort = controls.parse_sort(registry, name, value, types, limits)
    elif control == "_count":
        out.count, warning = controls.parse_count(name, value, limits, lenient=out.lenient)
        if warning is not None:
            out.warnings.append(warning)
    elif control == "_total":
        out.total = controls.parse_total(name, value)
    elif control == "_summary":
        out.summary = controls.parse_summary(name, value)
    elif control == "_elements":
        out.elements += controls.parse_elements(registry, name, value, types)
    elif control == "_contained":
        controls.check_contained(name, value)
    elif control == "_format":
        out.format = value
    elif control == "_pretty":
        if value not in ("true", "false"):
            raise invalid(
                name, f"_pretty must be true or false, not '{shown(value)}'", INVALID_CONTROL
            )
        out.pretty = value == "true"
    elif control == "_type":
        if resource_type is not None:
            raise unsupported(name, "_type is only valid when searching across resource types")
    elif control == "_list":
        out.criteria.append(_parse_list(name, value, limits))
    elif control in _NOT_SERVED:
        raise unsupported(name, _NOT_SERVED[control])
    elif "." in name:
        out.criteria.append(parse_chain(registry, name, value, types, limits, tz))
    else:
        out.criteria.append(parse_clause(registry, name, value, types, limits, tz))


def _parse_list(name: str, value: str, limits: SearchLimits) -> ListClause:
    if ":" in name:
        raise unsupported(name, "_list does not take modifiers")
    ids = []
    raw_ids = value.split(",")
    if len(raw_ids) > limits.max_or_values:
        raise invalid(name, f"_list has more than {limits.max_or_values} values", LIMIT_EXCEEDED)
    for raw in raw_ids:
        if raw.startswith("$"):
            raise unsupported(
                name,
                f"_list: functional list '{shown(raw)}' is not supported (a List id is)",
                UNSUPPORTED_VALUE,
            )
        list_id = raw.removeprefix("List/")
        if not _ID.match(list_id):
            raise invalid(name, f"'{shown(raw)}' is not a List id")
        ids.append(list_id)
    return ListClause(name, tuple(ids))
