"""Assembling response Bundles from stored bytes without re-parsing them.

Stored resources are already compact JSON; they are spliced into the Bundle with
``orjson.Fragment``, so a page of 1,000 resources costs one serialisation of the
envelope only.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from gateway.fhir.instant import format_instant
from gateway.fhir.json import dumps


def raw(content: bytes) -> orjson.Fragment:
    """Embed already-serialised JSON as is."""
    return orjson.Fragment(content)


def bundle(
    bundle_type: str,
    entries: list[dict[str, Any]],
    *,
    now: int,
    total: int | None = None,
    links: list[tuple[str, str]] | None = None,
) -> bytes:
    """Serialise a Bundle (https://hl7.org/fhir/R4/bundle.html)."""
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(now)},
        "type": bundle_type,
    }
    if total is not None:
        out["total"] = total
    if links:
        out["link"] = [{"relation": rel, "url": url} for rel, url in links]
    if entries:
        out["entry"] = entries
    return dumps(out)
