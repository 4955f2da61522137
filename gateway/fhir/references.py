"""FHIR references: parsing, and rewriting inside a resource.

https://hl7.org/fhir/R4/references.html. A reference is relative (``Patient/123``,
optionally ``/_history/2``), absolute (``https://host/fhir/Patient/123``), a
placeholder (``urn:uuid:…``, ``urn:oid:…``), an internal fragment (``#contained``) or,
inside a transaction, conditional (``Patient?identifier=system|value``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from typing import Any

from gateway.fhir.resource_types import RESOURCE_TYPES

_RELATIVE_RE = re.compile(
    r"^(?:(?P<base>https?://.+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$"
)


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed literal reference. ``base`` is set for absolute URLs."""

    resource_type: str
    id: str
    version: str | None = None
    base: str | None = None

    @property
    def relative(self) -> str:
        return f"{self.resource_type}/{self.id}"


def parse_reference(value: str) -> Ref | None:
    """Parse ``Type/id[/_history/v]`` or an absolute URL ending with it; else None."""
    m = _RELATIVE_RE.match(value)
    if not m or m["type"] not in RESOURCE_TYPES:
        return None
    return Ref(m["type"], m["id"], m["version"], m["base"])


def is_conditional(value: str) -> bool:
    """``Type?criteria``: a conditional reference, resolved by search in a transaction."""
    head, sep, _ = value.partition("?")
    return bool(sep) and head in RESOURCE_TYPES


def iter_reference_holders(node: Any) -> Iterator[dict[str, Any]]:
    """Every object with a string ``reference`` (a Reference), in document order."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


Slot = tuple[Any, Any]
"""A place in a JSON tree: (the dict or list holding a string, its key or index)."""


def find_link_slots(node: Any, candidates: Container[str]) -> list[Slot]:
    """Where a transaction may have to rewrite links, found in one walk.

    That is every string equal to one of ``candidates`` (the Bundle's fullUrls), every
    conditional ``reference``, and every narrative ``div`` that mentions a ``urn:``.
    """
    slots: list[Slot] = []
    stack = [node]
    while stack:
        item = stack.pop()
        pairs: Any = item.items() if isinstance(item, dict) else enumerate(item)
        for key, value in pairs:
            if isinstance(value, str):
                if (
                    value in candidates
                    or (key == "reference" and "?" in value)
                    or (key == "div" and "urn:" in value)
                ):
                    slots.append((item, key))
            elif isinstance(value, (dict, list)):
                stack.append(value)
    return slots


def rewrite_strings(node: Any, replace: Callable[[str], str | None]) -> Any:
    """Return ``node`` with every string ``s`` for which ``replace(s)`` is not None replaced.

    Used to swap ``urn:uuid:`` placeholders for the ids a transaction assigned: the spec
    asks for every matching uri, url, id and reference in the Bundle
    (https://hl7.org/fhir/R4/http.html#trules).
    """
    if isinstance(node, str):
        new = replace(node)
        return node if new is None else new
    if isinstance(node, dict):
        return {k: rewrite_strings(v, replace) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite_strings(v, replace) for v in node]
    return node
