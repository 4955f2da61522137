"""Batch and transaction Bundles (https://hl7.org/fhir/R4/http.html#transaction).

A transaction is atomic: every entry runs inside one unit of work, in the order the
spec gives (DELETE, POST, PUT/PATCH, GET), after ``urn:uuid:`` placeholders and
conditional references were resolved; one failing entry rolls back all of them and the
error names the entry. A batch runs each entry on its own and reports each outcome,
an unexpected failure included (that entry's 500, https://hl7.org/fhir/R4/http.html#brules):
the entries committed before it keep their answers, so a client never retries them blind.
Entries dispatch through the same route table as plain HTTP requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.errors import BadRequest, GatewayError, Issue, ServiceUnavailable, operation_outcome
from gateway.fhir.bundle import bundle, raw
from gateway.fhir.instant import format_instant
from gateway.fhir.references import iter_reference_holders
from gateway.record.repository import Repository
from gateway.rest.bundle_entries import ORDER, Entry, read_entries
from gateway.rest.bundle_identity import resolve_identities
from gateway.rest.request import FhirRequest, FhirResponse

log = logging.getLogger("gateway.rest")

REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified"}


def process(req: FhirRequest, repo: Repository) -> FhirResponse:
    limits = repo.services.settings.limits
    btype, entries = read_entries(
        req.resource, base=req.base, max_entries=limits.max_bundle_entries
    )
    if btype == "transaction":
        return _transaction(req, repo, entries)
    return _batch(req, repo, entries)


def _dispatch() -> Callable[[FhirRequest, Repository], FhirResponse]:
    from gateway.rest.router import dispatch  # the router imports this module

    return dispatch


def _transaction(req: FhirRequest, repo: Repository, entries: list[Entry]) -> FhirResponse:
    dispatch = _dispatch()
    prefer = req.header("prefer")
    responses: dict[int, FhirResponse] = {}
    for entry in entries:
        if entry.method in ("GET", "HEAD") and entry.segments == []:
            raise BadRequest("A transaction may not nest a Bundle", expression=entry.where)
    with repo.writing() as w:
        identities = resolve_identities(entries, w, base=req.base, prefer=prefer)
        for entry in sorted(entries, key=_processing_order):
            if entry.index in identities.existing:
                responses[entry.index] = identities.existing[entry.index]
                continue
            sub = entry.as_request(req.base, prefer=prefer, conditions_resolved=True)
            sub.resource = identities.rewrite(entry)
            sub.assigned_id = identities.assigned.get(entry.index)
            try:
                responses[entry.index] = dispatch(sub, repo)
            except GatewayError as exc:
                raise _at_entry(exc, entry) from None
    return _response_bundle("transaction-response", entries, responses, repo)


def _batch(req: FhirRequest, repo: Repository, entries: list[Entry]) -> FhirResponse:
    dispatch = _dispatch()
    prefer = req.header("prefer")
    placeholders: set[str | None] = {e.full_url for e in entries if e.full_url}
    responses: dict[int, FhirResponse] = {}
    for entry in entries:
        try:
            if _references_any(entry.resource, placeholders - {entry.full_url}):
                raise BadRequest(
                    "Entries of a batch may not reference each other; use a transaction",
                    expression=entry.where,
                    code="GW-1808",
                )
            with repo.writing() as w:
                identities = resolve_identities([entry], w, base=req.base, prefer=prefer)
                if entry.index in identities.existing:
                    responses[entry.index] = identities.existing[entry.index]
                    continue
                sub = entry.as_request(req.base, prefer=prefer, conditions_resolved=True)
                sub.resource = identities.rewrite(entry)
                sub.assigned_id = identities.assigned.get(entry.index)
                responses[entry.index] = dispatch(sub, repo)
        except GatewayError as exc:
            responses[entry.index] = _failed(_at_entry(exc, entry))
        except Exception as exc:  # this entry's 500, not the whole batch's
            responses[entry.index] = _failed(_at_entry(_unexpected(exc, repo), entry))
    return _response_bundle("batch-response", entries, responses, repo)


def _failed(exc: GatewayError) -> FhirResponse:
    return FhirResponse(exc.status, None, {}, operation_outcome(exc.issues))


def _unexpected(exc: Exception, repo: Repository) -> GatewayError:
    """What the HTTP layer would answer for ``exc`` (gateway.api.errors), as one batch
    entry's outcome: 503 for a database out of reach, else a 500 that shows no internals;
    the log line names the request and the exception type, never the data."""
    request_id = repo.ctx.request_id
    if isinstance(exc, OperationalError | PoolTimeout):
        log.warning(
            "database unavailable in a batch entry",
            extra={"request_id": request_id, "error_type": type(exc).__name__},
        )
        return ServiceUnavailable("The database is unavailable; retry shortly", code="GW-5006")
    log.error(
        "unhandled error in a batch entry",
        extra={"request_id": request_id, "error_type": type(exc).__name__},
        exc_info=exc,
    )
    return GatewayError("Internal server error; the request id identifies it in the logs")


def _processing_order(entry: Entry) -> tuple[int, bool, int]:
    """The spec's method order; within one method, entry order, except that a Binary
    comes after the resources it may secure (its access is judged through them)."""
    is_binary = isinstance(entry.resource, dict) and entry.resource.get("resourceType") == "Binary"
    return ORDER[entry.method], is_binary, entry.index


def _references_any(resource: Any, placeholders: set[str | None]) -> bool:
    if not placeholders or resource is None:
        return False
    return any(h["reference"] in placeholders for h in iter_reference_holders(resource))


def _at_entry(exc: GatewayError, entry: Entry) -> GatewayError:
    """The same error, located at the entry (``Bundle.entry[i]``)."""
    exc.diagnostics = (
        f"Bundle.entry[{entry.index}] ({entry.method} {entry.path}): {exc.diagnostics}"
    )
    exc.expression = tuple(
        f"{entry.where}.resource" + e[e.index(".") :] if "." in e else entry.where
        for e in exc.expression
    ) or (entry.where,)
    exc.extra_issues = tuple(
        Issue(
            i.severity,
            i.code,
            i.diagnostics,
            tuple(_relocate(x, entry) for x in i.expression),
            i.gateway_code,
        )
        for i in exc.extra_issues
    )
    return exc


def _relocate(expression: str, entry: Entry) -> str:
    if expression.startswith("Bundle.entry["):
        return expression
    _type, dot, rest = expression.partition(".")
    return f"{entry.where}.resource{dot}{rest}" if dot else f"{entry.where}.resource"


def _response_bundle(
    btype: str, entries: list[Entry], responses: dict[int, FhirResponse], repo: Repository
) -> FhirResponse:
    out: list[dict[str, Any]] = []
    for entry in entries:
        res = responses[entry.index]
        item: dict[str, Any] = {}
        location = res.headers.get("Location")
        if location:
            item["fullUrl"] = location.split("/_history/")[0]
        if res.body is not None and res.status < 300:
            item["resource"] = raw(res.body)
        response: dict[str, Any] = {"status": f"{res.status} {REASONS.get(res.status, '')}".strip()}
        if location:
            response["location"] = location
        if "ETag" in res.headers:
            response["etag"] = res.headers["ETag"]
        if res.version is not None:
            response["lastModified"] = format_instant(res.version.last_updated)
        if res.outcome is not None:
            response["outcome"] = res.outcome
        item["response"] = response
        out.append(item)
    return FhirResponse(
        200,
        bundle(btype, out, now=repo.services.clock()),
        entries=tuple(responses[entry.index] for entry in entries),
    )


__all__ = ["process"]
