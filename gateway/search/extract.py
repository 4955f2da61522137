"""Index extraction: the search index rows of one resource. Pure and fast.

:func:`extract` evaluates every served search parameter of the resource's type and
turns the values into rows (:mod:`gateway.search.rows`, built by
:mod:`gateway.search.builders`). The work per parameter was planned at load time: a
dictionary walk and a row builder chosen for the value type. Plans are grouped by the
resource's top-level key, so a parameter whose element is absent costs nothing.

Rows are de-duplicated. Values that break their datatype's format (a malformed date,
a non-numeric quantity) are skipped rather than raised: validation is the place that
rejects them, and indexing must not fail on what validation let through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from functools import cache
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.builders import Builder, builder_for
from gateway.search.compiler import walk_from
from gateway.search.fallback import infer_type
from gateway.search.registry import SearchRegistry
from gateway.search.rows import (
    DateRow,
    IndexRows,
    NumberRow,
    QuantityRow,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)

# The rows of each list of IndexRows as plain tuples of their fields (dedupe check).
_ROW_FIELDS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    name: attrgetter(*(f.name for f in fields(row_class)))
    for name, row_class in (
        ("tokens", TokenRow),
        ("strings", StringRow),
        ("dates", DateRow),
        ("references", ReferenceRow),
        ("quantities", QuantityRow),
        ("numbers", NumberRow),
        ("uris", UriRow),
    )
}

DEFAULT_TZ = "Europe/Paris"


@cache
def default_tz() -> ZoneInfo:
    """Europe/Paris, loaded on first use (never at import time)."""
    return ZoneInfo(DEFAULT_TZ)


def extract(
    resource: dict[str, Any],
    registry: SearchRegistry,
    *,
    tz: ZoneInfo | None = None,
    only: frozenset[str] | None = None,
    skip: frozenset[str] = frozenset(),
) -> IndexRows:
    """All index rows of ``resource``; ``only`` restricts to some parameter codes and
    ``skip`` leaves some out.

    ``tz`` (default Europe/Paris) is the zone of dates and date-times written without
    a UTC offset.
    """
    zone = tz or default_tz()
    rows = IndexRows()
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not registry.is_resource_type(rtype):
        return rows
    plan = registry.plan(rtype)
    by_key = plan.by_key
    for key, value in resource.items():
        steps = by_key.get(key)
        if steps is None or value is None:
            continue
        start = value if value.__class__ is list else [value]
        for code, rest, builder in steps:
            if (only is not None and code not in only) or code in skip:
                continue
            values = walk_from(start, rest, resource) if rest else start
            if values:
                builder(code, values, rows, resource, zone)
    for code, getter, maybe_builder, ptype in plan.other:
        if (only is not None and code not in only) or code in skip:
            continue
        values = getter.values(resource)
        if values:
            _build(code, ptype, values, maybe_builder, rows, resource, zone)
    _dedupe(rows)
    return rows


def _build(
    code: str,
    ptype: str,
    values: list[Any],
    builder: Builder | None,
    rows: IndexRows,
    resource: dict[str, Any],
    zone: ZoneInfo,
) -> None:
    if builder is not None:
        builder(code, values, rows, resource, zone)
        return
    for value in values:
        vtype = infer_type(value, ptype)
        inferred = builder_for(ptype, vtype) if vtype else None
        if inferred is not None:
            inferred(code, [value], rows, resource, zone)


def _dedupe(rows: IndexRows) -> None:
    for name, as_tuple in _ROW_FIELDS.items():
        lst = getattr(rows, name)
        # Duplicates are rare. Field tuples are hashed in C, the dataclasses' generated
        # ``__hash__`` in Python: check with the tuples, which are equal exactly when the
        # rows are, and de-duplicate the rows themselves only when there is one to drop.
        if len(lst) > 1 and len(set(map(as_tuple, lst))) != len(lst):
            setattr(rows, name, list(dict.fromkeys(lst)))


__all__ = ["DEFAULT_TZ", "default_tz", "extract"]
