"""``_summary`` and ``_elements``: the subset of a resource a search returns.

https://hl7.org/fhir/R4/search.html#summary and #elements. A subset resource carries
the ``SUBSETTED`` tag of ``v3-ObservationValue`` in ``meta.tag``, as the spec requires
("so that it is not mistaken for the full resource"); ``_summary=data`` only removes
the narrative and is tagged too. ``id`` and ``meta`` are always kept, and ``_elements``
keeps the type's mandatory elements as well.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from gateway.search.query import Summary
from gateway.search.summary import SummaryElements, TypeSummary

SUBSETTED_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
SUBSETTED = {"system": SUBSETTED_SYSTEM, "code": "SUBSETTED", "display": "subsetted"}
_ALWAYS = frozenset({"resourceType", "id", "meta"})


def needs_subset(summary: Summary | None, elements: Collection[str]) -> bool:
    """Whether resources must be parsed and cut (``count`` returns no resources at all)."""
    return summary in ("true", "text", "data") or bool(elements)


def subset(
    resource: dict[str, Any],
    table: SummaryElements,
    *,
    summary: Summary | None,
    elements: Collection[str] = (),
) -> dict[str, Any]:
    """The part of ``resource`` to return, tagged SUBSETTED; ``resource`` is not changed.

    ``elements`` are top-level names without ``[x]`` (as :func:`parse_search` gives them).
    ``_summary`` takes precedence over ``_elements`` when both are given.
    """
    rtype = str(resource.get("resourceType", ""))
    info = table.of(rtype)
    if summary == "data":
        kept = {k: v for k, v in resource.items() if k not in ("text", "_text")}
    elif summary == "true":
        kept = _keep(resource, info, {n.removesuffix("[x]") for n in info.summary})
    elif summary == "text":
        names = {"text"} | {n.removesuffix("[x]") for n in info.mandatory}
        kept = _keep(resource, info, names)
    elif elements:
        names = set(elements) | {n.removesuffix("[x]") for n in info.mandatory}
        kept = _keep(resource, info, names)
    else:
        return resource
    return _tagged(kept)


def _keep(resource: dict[str, Any], info: TypeSummary, names: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in resource.items():
        bare = key[1:] if key.startswith("_") else key  # primitive extensions follow
        if key in _ALWAYS or bare in names or _choice_of(bare, info) in names:
            out[key] = value
    return out


def _choice_of(key: str, info: TypeSummary) -> str | None:
    """``effective`` for ``effectiveDateTime`` when ``effective[x]`` is a choice element."""
    for i in range(1, len(key)):
        if key[i].isupper():
            head = key[:i]
            return head if head in info.choices else None
    return None


def _tagged(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tags = list(meta.get("tag") or [])
    if not any(
        isinstance(t, dict) and t.get("system") == SUBSETTED_SYSTEM and t.get("code") == "SUBSETTED"
        for t in tags
    ):
        tags.append(dict(SUBSETTED))
    meta["tag"] = tags
    return {**resource, "meta": meta}
