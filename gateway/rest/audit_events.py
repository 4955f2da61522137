"""``GET /fhir/AuditEvent`` and ``GET /fhir/AuditEvent/{id}``: the audit log for auditors.

AuditEvents are not stored as ordinary resources: they live in the tamper-evident log
(:mod:`gateway.storage.audit_log`), their id is their sequence number, and only the
gateway writes them (any write interaction is 405). Searches take the auditor parameters
of :mod:`gateway.storage.audit_search` (patient, agent, date, action, outcome,
purpose-of-use, structure, type, subtype) and page newest first. ``Bundle.total``
follows the main search (:func:`gateway.search.controls.total_mode`): given when the
first page holds every match (exact for free), when ``_total=accurate`` (or
``estimate``, up to :data:`~gateway.record.search.ESTIMATE_SCAN` entries) asks for it,
and alone for ``_count=0`` unless ``_total=none``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from gateway.audit.entries import as_resource
from gateway.errors import NotFound
from gateway.fhir.bundle import bundle
from gateway.fhir.cursor import digest
from gateway.fhir.json import dumps
from gateway.record.repository import Repository
from gateway.record.search import ESTIMATE_SCAN
from gateway.rest.instance import check_read_params, subsetter
from gateway.rest.paging import caller_digest, count_param
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.search.controls import parse_total, total_mode


def read(req: FhirRequest, repo: Repository) -> FhirResponse:
    """A read like any other: ``_summary``/``_elements`` cut it, other parameters are
    refused (:func:`gateway.rest.instance.check_read_params`)."""
    rid = req.segments[1]
    if not rid.isdigit():
        raise NotFound(f"AuditEvent/{rid} is not known")
    check_read_params(req)
    cut = subsetter(req, repo, "AuditEvent")
    with repo.reading() as r:
        rows = r.audit_rows([("_id", rid)], before_seq=None, limit=1)
    if not rows:
        raise NotFound(f"AuditEvent/{rid} is not known")
    seq, content = rows[0]
    resource = as_resource(content, seq)
    return FhirResponse(200, dumps(cut(resource) if cut is not None else resource))


def search(req: FhirRequest, repo: Repository) -> FhirResponse:
    limits = repo.services.settings.limits
    count = count_param(req, limits.default_count, limits.max_count)
    params = [(k, v) for k, v in req.query if k not in ("_count", "_page", "_total")]
    query_key = digest(["audit", *(f"{k}={v}" for k, v in sorted(params)), str(count)])
    caller = caller_digest(repo.ctx)
    before = None
    token = req.param("_page")
    if token:
        before = int(repo.services.cursors.decode(token, query=query_key, caller=caller)["b"])
    raw_total = req.param("_total")
    mode = total_mode(parse_total("_total", raw_total) if raw_total else None, count)
    with repo.reading() as r:
        rows = r.audit_rows(params, before_seq=before, limit=count + 1)
        page = rows[:count]
        total: int | None = None
        if mode != "none" and before is None and len(rows) <= count:
            total = len(page)  # the first page holds every match: exact for free
        elif mode == "accurate":
            total = r.audit_total(params)
        elif mode == "estimate":
            total = r.audit_total(params, cap=ESTIMATE_SCAN)
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{req.base}/AuditEvent/{seq}",
            "resource": as_resource(content, seq),
            "search": {"mode": "match"},
        }
        for seq, content in page
    ]
    path = f"{req.base}/AuditEvent"
    links = [("self", f"{path}?{urlencode(req.query)}" if req.query else path)]
    if len(rows) > count and page:
        nxt = repo.services.cursors.encode({"b": page[-1][0]}, query=query_key, caller=caller)
        more = urlencode([*params, ("_count", str(count)), ("_page", nxt)])
        links.append(("next", f"{path}?{more}"))
    body = bundle("searchset", entries, now=repo.services.clock(), total=total, links=links)
    return FhirResponse(200, body)
