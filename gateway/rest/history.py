"""History at instance, type and system level (https://hl7.org/fhir/R4/http.html#history).

Parameters: ``_since`` (instant), ``_at`` (dateTime), ``_count``; ``_page`` is our
signed cursor for the next page. Anything else is refused (strict by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from gateway.errors import UnsupportedParameter, shown
from gateway.fhir.bundle import bundle, raw
from gateway.fhir.cursor import digest
from gateway.fhir.instant import format_instant, parse_range
from gateway.record.repository import Repository
from gateway.rest.paging import caller_digest, count_param
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.respond import etag
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx

ALLOWED = frozenset({"_since", "_at", "_count", "_page"})


def history(req: FhirRequest, repo: Repository) -> FhirResponse:
    segs = req.segments
    rtype = segs[0] if segs[0] != "_history" else None
    rid = segs[1] if len(segs) == 3 else None
    for name, _ in req.query:
        if name not in ALLOWED:
            raise UnsupportedParameter(
                f"Unknown or unsupported history parameter '{shown(name)}'",
                expression=shown(name),
                code="GW-1002",
            )
    settings = repo.services.settings
    since_raw, at_raw = req.param("_since"), req.param("_at")
    since = parse_range(since_raw, what="_since")[0] if since_raw else None
    at = parse_range(at_raw, what="_at") if at_raw else None
    count = count_param(req, settings.limits.default_count, settings.limits.max_count)
    query_key = digest(["history", *segs, since_raw or "", at_raw or "", str(count)])
    caller = caller_digest(repo.ctx)
    before = None
    page_token = req.param("_page")
    if page_token:
        before = int(
            repo.services.cursors.decode(page_token, query=query_key, caller=caller)["before"]
        )
    with repo.reading() as r:
        page = r.history(
            resource_type=rtype, rid=rid, since=since, at=at, count=count, before_seq=before
        )
        created = _created(page.versions, r.tx)
    entries: list[dict[str, Any]] = []
    for v in page.versions:
        entry: dict[str, Any] = {"fullUrl": f"{req.base}/{v.resource_type}/{v.id}"}
        if v.content is not None:
            entry["resource"] = raw(v.content)
        method = v.method or "PUT"
        url = v.resource_type if method == "POST" else f"{v.resource_type}/{v.id}"
        entry["request"] = {"method": method, "url": url}
        entry["response"] = {
            "status": "204" if v.deleted else "201" if created[id(v)] else "200",
            "etag": etag(v.version),
            "lastModified": format_instant(v.last_updated),
        }
        entries.append(entry)
    own = [(k, v) for k, v in req.query if k != "_page"]
    path = f"{req.base}/{'/'.join(segs)}"
    links = [("self", f"{path}?{urlencode(req.query)}" if req.query else path)]
    if page.next_before_seq is not None:
        token = repo.services.cursors.encode(
            {"before": page.next_before_seq}, query=query_key, caller=caller
        )
        links.append(("next", f"{path}?{urlencode([*own, ('_page', token)])}"))
    body = bundle("history", entries, now=repo.services.clock(), links=links)
    return FhirResponse(200, body)


def _created(versions: Sequence[StoredVersion], tx: StoreTx) -> dict[int, bool]:
    """Which versions created their resource, as the answer to their interaction said
    (201): version 1, and the first version after a deletion (a PUT that created the
    resource again). The version before one is looked up when the page lacks it."""
    deleted = {(v.resource_type, v.id, v.version): v.deleted for v in versions}
    out: dict[int, bool] = {}
    for v in versions:
        if v.deleted or v.version == 1:
            out[id(v)] = not v.deleted
            continue
        key = (v.resource_type, v.id, v.version - 1)
        if key not in deleted:
            before = tx.version(*key)
            deleted[key] = before is not None and before.deleted
        out[id(v)] = deleted[key]
    return out
