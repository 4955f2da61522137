"""Search (https://hl7.org/fhir/R4/search.html): ``GET [type]?…`` and ``POST [type]/_search``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from gateway.fhir.bundle import bundle, raw
from gateway.fhir.cursor import digest
from gateway.record.repository import Repository
from gateway.rest.paging import caller_digest, count_param
from gateway.rest.request import FhirRequest, FhirResponse

CONTROL = frozenset({"_count", "_page"})


def search(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype = req.segments[0]
    limits = repo.services.settings.limits
    count = count_param(req, limits.default_count, limits.max_count)
    criteria = [(k, v) for k, v in req.query if k not in CONTROL]
    query_key = digest(["search", rtype, *(f"{k}={v}" for k, v in sorted(criteria)), str(count)])
    caller = caller_digest(repo.ctx)
    after = None
    token = req.param("_page")
    if token:
        after = int(repo.services.cursors.decode(token, query=query_key, caller=caller)["after"])
    with repo.reading() as r:
        found = r.match(rtype, criteria, limit=count + 1, after=after)
        page, more = found[:count], len(found) > count
        r.disclose(page)
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{req.base}/{v.resource_type}/{v.id}",
            "resource": raw(v.content or b"{}"),
            "search": {"mode": "match"},
        }
        for v in page
    ]
    path = f"{req.base}/{rtype}"
    links = [("self", f"{path}?{urlencode(req.query)}" if req.query else path)]
    if more and page:
        next_token = repo.services.cursors.encode(
            {"after": page[-1].pk}, query=query_key, caller=caller
        )
        links.append(
            (
                "next",
                f"{path}?{urlencode([*criteria, ('_count', str(count)), ('_page', next_token)])}",
            )
        )
    total = len(page) if not more and after is None else None
    return FhirResponse(
        200, bundle("searchset", entries, now=repo.services.clock(), total=total, links=links)
    )
