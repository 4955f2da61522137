"""Answering a parsed search with a ``searchset`` Bundle (https://hl7.org/fhir/R4/search.html).

Shared by type searches, compartment searches and ``$everything``:

- entries: matches (``search.mode=match``), then included resources (``include``), then,
  when parameters were ignored (``Prefer: handling=lenient``) or limits bent, one
  OperationOutcome (``outcome``) that says which and why;
- ``_summary``/``_elements`` cut the resources and tag them SUBSETTED;
- links ``self``, ``first``, ``next`` and ``prev``, whose ``_page`` is an opaque cursor
  signed with the server key and bound to the query and to the caller: a tampered
  cursor, or one replayed with another query or by another caller, is a 400.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from gateway.errors import BadRequest, Issue, operation_outcome
from gateway.fhir.bundle import bundle, raw
from gateway.fhir.cursor import digest
from gateway.fhir.json import loads_stored
from gateway.record.repository import Repository
from gateway.record.search import SearchExecutor, SearchPage
from gateway.rest.paging import caller_digest
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.search import SearchRequest
from gateway.search.subset import needs_subset, subset
from gateway.storage.records import StoredVersion
from gateway.storage.search import Position

PAGE = "_page"


def lenient(req: FhirRequest) -> bool:
    """``Prefer: handling=lenient`` (https://hl7.org/fhir/R4/search.html#errors); strict
    otherwise."""
    return req.prefer.get("handling", "strict").lower() == "lenient"


@dataclass(frozen=True, slots=True)
class SearchCall:
    """A parsed search and how to answer it.

    ``path``: the URL the links start from; ``params``: the parameters as received,
    without the cursor; ``kind`` tells searches of different endpoints apart in cursors.
    """

    request: SearchRequest
    path: str
    params: list[tuple[str, str]]
    kind: str
    lenient: bool = False
    referenced: frozenset[str] | None = None


def searchset(req: FhirRequest, repo: Repository, call: SearchCall) -> FhirResponse:
    cursors = repo.services.cursors
    caller = caller_digest(repo.ctx)
    # Links name the parameters actually used: leniently ignored ones are left out, so a
    # cursor is bound to those (a next link then works with or without lenient handling).
    ignored = {(i.name, i.value) for i in call.request.ignored}
    used = [(k, v) for k, v in call.params if (k, v) not in ignored]
    query_key = digest([call.kind, call.path, *sorted(f"{k}={v}" for k, v in used)])
    position = _position(call, cursors.decode, query_key, caller)
    with repo.reading() as r:
        executor = SearchExecutor(
            r, base=req.base, lenient=call.lenient, referenced=call.referenced
        )
        page = executor.page(call.request, position)
        r.disclose([*page.matches, *page.included])
    entries = _entries(req, repo, call.request, page)

    def link(rel: str, at: Position | None) -> tuple[str, str]:
        params = list(used)
        if at is not None:
            params.append((PAGE, cursors.encode(at.to_json(), query=query_key, caller=caller)))
        return rel, f"{call.path}?{urlencode(params)}" if params else call.path

    received = [*used, *([(PAGE, call.request.reserved[PAGE])] if position else [])]
    links = [("self", f"{call.path}?{urlencode(received)}" if received else call.path)]
    links.append(link("first", None))
    if page.prev is not None:
        links.append(link("prev", page.prev))
    if page.next is not None:
        links.append(link("next", page.next))
    body = bundle("searchset", entries, now=repo.services.clock(), total=page.total, links=links)
    return FhirResponse(200, body)


def _position(
    call: SearchCall, decode: Callable[..., dict[str, Any]], query_key: str, caller: str
) -> Position | None:
    token = call.request.reserved.get(PAGE)
    if not token:
        return None
    payload = decode(token, query=query_key, caller=caller, name=PAGE)
    try:
        position = Position.from_json(payload)
    except ValueError:
        position = None
    if position is None or len(position.keys) != len(call.request.sort):
        raise BadRequest(f"Invalid paging cursor in '{PAGE}'", expression=PAGE, code="GW-1601")
    return position


def _entries(
    req: FhirRequest, repo: Repository, request: SearchRequest, page: SearchPage
) -> list[dict[str, Any]]:
    summaries = repo.services.search.summaries
    cut_matches = needs_subset(request.summary, request.elements)
    cut_included = needs_subset(request.summary, ())

    def entry(v: StoredVersion, mode: str, cut: bool) -> dict[str, Any]:
        content = v.content or b"{}"
        resource: Any = raw(content)
        if cut:
            elements = request.elements if mode == "match" else ()
            parsed = loads_stored(content)
            resource = subset(parsed, summaries, summary=request.summary, elements=elements)
        return {
            "fullUrl": f"{req.base}/{v.resource_type}/{v.id}",
            "resource": resource,
            "search": {"mode": mode},
        }

    out = [entry(v, "match", cut_matches) for v in page.matches]
    out += [entry(v, "include", cut_included) for v in page.included]
    issues: list[Issue] = [*request.ignored_outcome_issues(), *page.issues]
    if issues:
        out.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": operation_outcome(issues),
                "search": {"mode": "outcome"},
            }
        )
    return out
