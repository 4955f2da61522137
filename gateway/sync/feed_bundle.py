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
from functools import partial
from typing import Any
from urllib.parse import urlencode

import orjson

from gateway.fhir.bundle import bundle, raw
from gateway.fhir.instant import format_instant
from gateway.storage.records import StoredVersion
from gateway.sync.feed_share import RecentValues


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


def encoded_entry(base: str, version: StoredVersion) -> orjson.Fragment:
    return raw(orjson.dumps(entry(base, version)))


def feed_bundle(
    *,
    base: str,
    feed_url: str,
    versions: Sequence[StoredVersion],
    cursor: str,
    params: Sequence[tuple[str, str]],
    now: int,
    entries: RecentValues[orjson.Fragment] | None = None,
) -> bytes:
    """The Bundle; ``entries`` keeps the encoded entries of recent versions, for the other
    callers served the same versions (an entry depends only on the key used: a version's
    content never changes, and an erased one reads as a deletion, another key)."""
    own = [(k, v) for k, v in params if k not in ("cursor", "start")]
    links = [
        ("self", f"{feed_url}?{urlencode(params)}" if params else feed_url),
        ("next", f"{feed_url}?{urlencode([*own, ('cursor', cursor)])}"),
    ]
    if entries is None:
        items: list[Any] = [entry(base, v) for v in versions]
    else:
        items = [
            entries.get(
                (base, v.resource_type, v.id, v.version, v.deleted, v.content is None),
                partial(encoded_entry, base, v),
            )
            for v in versions
        ]
    return bundle("history", items, now=now, links=links)
