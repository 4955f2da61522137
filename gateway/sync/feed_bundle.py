"""The change feed as a FHIR Bundle of type ``history``.

Why ``history`` (https://hl7.org/fhir/R4/bundle.html#bundle-types): the feed lists
versions as they were written, deletions included, and only ``history`` entries carry the
``request``/``response`` that say which (invariants bdl-3 and bdl-4 forbid them in a
``collection``). Unlike the ``_history`` interaction, entries run oldest first: it is a
feed to replay in order. Each entry has ``fullUrl``, the version as ``resource`` (absent
for a deletion), ``request.method`` (POST create, PUT update, DELETE delete) and
``response.etag``/``lastModified``. The link ``next`` always carries the cursor to resume
from, also when the caller is caught up (then it returns nothing until something new is
committed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from gateway.fhir.bundle import bundle, raw
from gateway.fhir.instant import format_instant
from gateway.storage.records import StoredVersion


def entry(base: str, version: StoredVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"fullUrl": f"{base}/{version.resource_type}/{version.id}"}
    if version.deleted:
        method, status = "DELETE", "204"
    elif version.version == 1:
        method, status = "POST", "201"
    else:
        method, status = "PUT", "200"
    if version.content is not None and not version.deleted:
        out["resource"] = raw(version.content)
    url = version.resource_type if method == "POST" else f"{version.resource_type}/{version.id}"
    out["request"] = {"method": method, "url": url}
    out["response"] = {
        "status": status,
        "etag": f'W/"{version.version}"',
        "lastModified": format_instant(version.last_updated),
    }
    return out


def feed_bundle(
    *,
    base: str,
    feed_url: str,
    versions: Sequence[StoredVersion],
    cursor: str,
    params: Sequence[tuple[str, str]],
    now: int,
) -> bytes:
    own = [(k, v) for k, v in params if k not in ("cursor", "start")]
    links = [
        ("self", f"{feed_url}?{urlencode(params)}" if params else feed_url),
        ("next", f"{feed_url}?{urlencode([*own, ('cursor', cursor)])}"),
    ]
    return bundle("history", [entry(base, v) for v in versions], now=now, links=links)
