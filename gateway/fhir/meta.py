"""Server-managed ``meta`` elements (https://hl7.org/fhir/R4/resource.html#Meta)."""

from __future__ import annotations

from typing import Any

from gateway.fhir.instant import format_instant


def stamp(resource: dict[str, Any], rid: str, version: int, last_updated: int) -> dict[str, Any]:
    """A copy of ``resource`` with the server's id, ``meta.versionId`` and ``meta.lastUpdated``.

    Client-supplied ``meta`` elements (profile, security, tag, source) are kept;
    ``id`` comes first in the output for readability.
    """
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(last_updated)
    out: dict[str, Any] = {"resourceType": resource["resourceType"], "id": rid, "meta": meta}
    for key, value in resource.items():
        if key not in out:
            out[key] = value
    return out


def without_server_meta(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` minus versionId/lastUpdated, to detect updates that change nothing."""
    out = dict(resource)
    meta = dict(out.get("meta") or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        out["meta"] = meta
    else:
        out.pop("meta", None)
    return out
