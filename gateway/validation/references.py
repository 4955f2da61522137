"""References: the target type a profile allows, and targets inside the same Bundle.

The type of a literal reference is read from its URL (``Patient/123``,
``https://host/fhir/Patient/123/_history/2``), or from the Bundle entry it resolves to
(``urn:uuid:…``), or from the contained resource (``#id``). It must be one of the types
the element's ``targetProfile`` allows. A reference that can only point inside the Bundle
(``urn:uuid:``/``urn:oid:``) must resolve there; a relative or absolute URL that the
Bundle does not hold may live on the server, so it is not an error here.

See https://hl7.org/fhir/R4/references.html#literal and
https://hl7.org/fhir/R4/bundle.html#references (resolving references in Bundles).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.validation import report as rc
from gateway.validation.report import Report

_URL = re.compile(
    r"(?:(?:https?://[^\s]+?/)?)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?"
)


@dataclass(frozen=True, slots=True)
class BundleContext:
    """What a Bundle holds, so that references between its entries can be checked."""

    #: ``fullUrl`` → resource type
    by_full_url: Mapping[str, str] = field(default_factory=dict)
    #: ``Type/id`` → resource type, for relative references
    by_type_id: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_bundle(cls, bundle: Mapping[str, Any]) -> BundleContext:
        by_full_url: dict[str, str] = {}
        by_type_id: dict[str, str] = {}
        entries = bundle.get("entry") if isinstance(bundle, Mapping) else None
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            resource = entry.get("resource")
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
            if not isinstance(rtype, str):
                continue
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                by_full_url[full_url] = rtype
                m = _URL.search(full_url)
                if m and m.group(1) == rtype:
                    by_type_id[f"{rtype}/{m.group(2)}"] = rtype
            rid = resource.get("id") if isinstance(resource, dict) else None
            if isinstance(rid, str):
                by_type_id.setdefault(f"{rtype}/{rid}", rtype)
        return cls(by_full_url, by_type_id)

    def resolve(self, reference: str) -> str | None:
        """The resource type ``reference`` points to in this Bundle, if it holds it."""
        found = self.by_full_url.get(reference)
        if found is not None:
            return found
        m = _URL.fullmatch(reference)
        if m is not None:
            return self.by_type_id.get(f"{m.group(1)}/{m.group(2)}")
        return None


def contained_types(resource: dict[str, Any]) -> dict[str, str]:
    """The resources ``resource`` contains: id → resource type, for ``#id`` references."""
    out: dict[str, str] = {}
    contained = resource.get("contained")
    for c in contained if isinstance(contained, list) else ():
        if isinstance(c, dict) and isinstance(c.get("id"), str):
            out[c["id"]] = str(c.get("resourceType"))
    return out


def reference_type(reference: str) -> str | None:
    """The resource type a literal reference names in its URL, if any."""
    m = _URL.fullmatch(reference)
    return m.group(1) if m is not None else None


def check_reference(
    value: dict[str, Any],
    targets: frozenset[str] | None,
    path: str,
    contained: Mapping[str, str],
    bundle: BundleContext | None,
    out: Report,
) -> None:
    """Check one Reference value (``contained``: local id → type of the root's contained)."""
    ref = value.get("reference")
    declared = value.get("type")
    if not isinstance(ref, str):
        if isinstance(declared, str) and targets is not None and declared not in targets:
            _wrong_target(declared, targets, path, out)
        return
    found: str | None
    if ref.startswith("#"):
        found = contained.get(ref[1:]) if ref != "#" else None
    elif ref.startswith(("urn:uuid:", "urn:oid:")):
        found = bundle.resolve(ref) if bundle is not None else None
        if bundle is not None and found is None:
            out.error(
                "not-found",
                rc.REFERENCE,
                f"Reference {ref} does not resolve to an entry of the Bundle",
                path + ".reference",
            )
            return
    else:
        found = (bundle.resolve(ref) if bundle is not None else None) or reference_type(ref)
    if isinstance(declared, str) and found is not None and declared != found:
        out.error(
            "structure",
            rc.REFERENCE,
            f"Reference.type {declared!r} does not match the referenced {found}",
            path + ".type",
        )
    if found is not None and targets is not None and found not in targets:
        _wrong_target(found, targets, path, out)


def _wrong_target(found: str, targets: frozenset[str], path: str, out: Report) -> None:
    allowed = ", ".join(sorted(targets))
    out.error(
        "structure",
        rc.REFERENCE,
        f"A reference to {found} is not allowed here (allowed: {allowed})",
        path,
    )
