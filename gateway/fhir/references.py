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

from gateway.errors import InvalidReference, Issue
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


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
PLACEHOLDER_PREFIXES = ("urn:uuid:", "urn:oid:")


def check_reference_forms(resource: dict[str, Any]) -> None:
    """400 for each reference a stored resource could never follow, at its element.

    Run on every write, after a transaction rewrote its placeholders and conditional
    references: what is left of those names nothing here. ``urn:uuid:``/``urn:oid:``
    name an entry of a Bundle (GW-1031; a Bundle stored whole may name its own
    entries), ``Type?criteria`` is resolved in a transaction or batch only (GW-1032),
    and a relative reference must be ``Type/id[/_history/vid]`` (GW-1030): anything else
    is no link, and the access policy would judge the patient it fails to name.
    An absolute URL may point to any server, a ``#id`` to a contained resource (checked
    by the validator): both are left alone.
    """
    rtype = str(resource.get("resourceType", ""))
    own = set(_full_urls(resource)) if rtype == "Bundle" else set()
    issues: list[Issue] = []
    for path, ref in _references_at(resource, rtype):
        if ref.startswith("#") or ref in own:
            continue
        if ref.startswith(PLACEHOLDER_PREFIXES):
            issues.append(
                _issue(
                    f"Reference {ref} names no entry of a Bundle: a urn:uuid: or urn:oid: "
                    "reference must match the fullUrl of an entry of the same transaction",
                    path,
                    "GW-1031",
                )
            )
        elif is_conditional(ref):
            issues.append(
                _issue(
                    f"Conditional reference {ref!r}: conditional references are resolved "
                    "in transactions (and batch entries) only; send a literal Type/id here",
                    path,
                    "GW-1032",
                )
            )
        elif not _SCHEME.match(ref) and (
            (parsed := parse_reference(ref)) is None or parsed.base is not None
        ):
            issues.append(
                _issue(
                    f"Invalid reference {ref[:100]!r}: a relative reference is "
                    "Type/id or Type/id/_history/vid, with a FHIR R4 resource type and an "
                    "id of 1-64 characters A-Z a-z 0-9 - .",
                    path,
                    "GW-1030",
                )
            )
    if issues:
        first = issues[0]
        raise InvalidReference(
            first.diagnostics,
            expression=first.expression,
            code=first.gateway_code,
            issues=issues[1:],
        )


def _issue(diagnostics: str, path: str, code: str) -> Issue:
    return Issue("error", "invalid", diagnostics, (path,), code)


def _references_at(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(FHIRPath of the ``reference`` element, its value), in document order."""
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            yield f"{path}.reference", ref
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                yield from _references_at(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _references_at(item, f"{path}[{i}]")


def _full_urls(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("fullUrl"), str):
            yield node["fullUrl"]
        for value in node.values():
            yield from _full_urls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _full_urls(item)


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
