"""``/audit/*`` for auditors and ``/me/access-log`` for patients (issue 7).

- ``GET /audit/checkpoint[?size=N]``: the latest signed checkpoint, or the one at
  size N (``text/plain``, the C2SP signed note);
- ``GET /audit/proof/inclusion?index=&size=`` and
  ``GET /audit/proof/consistency?first=&second=``: RFC 9162 proofs (JSON, base64);
- ``GET /audit/export?agent=&since=&until=``: NDJSON in the offline verifier's format
  (:func:`gateway.audit.verifier.format_export_line`); unfiltered, it is the whole log;
- ``GET /me/access-log[?_count=&before=]``: who accessed the caller's record, newest
  first, each entry with its leaf hash and its inclusion proof against a checkpoint
  that covers it; ``_count`` entries (default 100, at most 500), ``before`` a sequence
  number to continue from (``next_before``). Any other parameter is a 400 naming it.

Only auditors reach ``/audit/*`` and only patients ``/me/access-log`` (admins are
refused, so the duties stay separate); anyone else gets a 403, itself logged. Every
read of the log is logged before any data leaves: if that append fails, the answer
is a 503 with no data. (``dev`` callers, which exist only with ``GATEWAY_AUTH=disabled``,
may use everything.)
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from gateway.access.context import AccessContext, CallerKind
from gateway.api.caller import authenticated_here
from gateway.audit.access_view import access_view
from gateway.audit.codes import Interaction, Outcome
from gateway.audit.events import AuditRecord
from gateway.audit.merkle import leaf_hash
from gateway.audit.proofs import MissingNode
from gateway.errors import BadRequest, Forbidden, GatewayError, NotFound, shown
from gateway.fhir.instant import parse_range
from gateway.storage import audit_checkpoints, audit_nodes, audit_reads
from gateway.storage.audit_errors import AuditIntegrityError
from gateway.storage.audit_head import read_head
from gateway.storage.audit_log import AuditLog
from gateway.storage.patient_lookup import patient_ids_for_ins

router = APIRouter()
MAX_ACCESS_LOG = 500


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def _int(request: Request, name: str, *, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is not None:
            return default
        raise BadRequest(f"The parameter '{name}' is required", expression=name, code="GW-1302")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadRequest(
            f"The parameter '{name}' must be a non-negative integer, not '{shown(raw)}'",
            expression=name,
            code="GW-1302",
        )
    return int(raw)


class _Access:
    """The caller of one request to the log, and the record of what it did."""

    def __init__(self, request: Request, allowed: CallerKind, operation: str) -> None:
        self.request = request
        self.log: AuditLog = request.app.state.audit
        self.ctx: AccessContext = AccessContext(kind="anonymous")
        self.operation = operation
        self.allowed = allowed

    def _record(
        self, interaction: Interaction, outcome: Outcome, reason: str | None = None
    ) -> AuditRecord:
        url = self.request.url
        query = url.path.lstrip("/") + (f"?{url.query}" if url.query else "")
        return AuditRecord(
            interaction=interaction,
            ctx=self.ctx,
            recorded=self.log.clock(),
            outcome=outcome,
            reason=reason,
            action="R",
            query=query.encode("utf-8"),
            operation=self.operation,
        )

    def admit(self) -> None:
        """Authenticate, then refuse (logged, 403) any caller but the allowed kind."""
        self.ctx = authenticated_here(self.request)
        if self.ctx.kind in (self.allowed, "dev"):
            return
        who = "auditors" if self.allowed == "auditor" else "patients"
        err = Forbidden(f"Only {who} may use this endpoint", code="GW-2003")
        self.log.record_standalone(self._record("operation", 4, f"{err.code} forbidden"))
        raise err

    def audited(self, interaction: Interaction = "operation") -> None:
        """Log this read before any data leaves (raises a 503 if it cannot be logged)."""
        self.log.record_standalone(self._record(interaction, 0))

    def failed(self, err: GatewayError) -> None:
        """Log a refused read (bad parameters, unknown size) before answering it."""
        self.log.record_standalone(self._record("operation", 4, err.code))


async def _serve(access: _Access, work: Any) -> Any:
    """Admit the caller, do ``work`` and log it, all in one worker thread (each hop to
    a thread waits for a core on a busy machine)."""

    def run() -> Any:
        access.admit()  # refusals are logged where they happen, not as failed reads
        try:
            result = work()
        except MissingNode:
            raise AuditIntegrityError(
                "A stored subtree of the audit log is missing; an operator must verify the log"
            ) from None
        except GatewayError as err:
            if err.status < 500:
                access.failed(err)
            raise
        access.audited()
        return result

    return await run_in_threadpool(run)


@router.get("/audit/checkpoint", include_in_schema=False)
async def checkpoint(request: Request) -> Response:
    access = _Access(request, "auditor", "audit-checkpoint")
    size = request.query_params.get("size")

    def work() -> audit_checkpoints.StoredCheckpoint:
        if size is None:
            with access.log.engine.connect() as conn:
                found = audit_checkpoints.latest(conn)
            return found or access.log.checkpoint()
        wanted = _int(request, "size")
        with access.log.engine.connect() as conn:
            found = audit_checkpoints.at_size(conn, wanted)
        if found is None:
            raise NotFound(f"No checkpoint was signed at size {wanted}", code="GW-3101")
        return found

    cp = await _serve(access, work)
    return Response(
        cp.note,
        media_type="text/plain; charset=utf-8",
        headers={"X-Audit-Tree-Size": str(cp.size)},
    )


@router.get("/audit/proof/inclusion", include_in_schema=False)
async def inclusion(request: Request) -> Response:
    access = _Access(request, "auditor", "audit-proof-inclusion")

    def work() -> dict[str, Any]:
        index, size = _int(request, "index"), _int(request, "size")
        log = access.log
        with log.engine.connect() as conn:
            committed = log.committed_size(conn, at_least=size)
            if not index < size <= committed:
                raise BadRequest(
                    f"An inclusion proof needs index < size <= {committed} (the log size)",
                    expression="size" if size > committed else "index",
                    code="GW-1303",
                )
            leaf, proof = audit_nodes.leaf_and_inclusion(conn, index, size, log.nodes)
        return {
            "index": index,
            "size": size,
            "leaf_hash": _b64(leaf),
            "proof": [_b64(h) for h in proof],
        }

    return JSONResponse(await _serve(access, work))


@router.get("/audit/proof/consistency", include_in_schema=False)
async def consistency(request: Request) -> Response:
    access = _Access(request, "auditor", "audit-proof-consistency")

    def work() -> dict[str, Any]:
        first, second = _int(request, "first"), _int(request, "second")
        log = access.log
        with log.engine.connect() as conn:
            committed = log.committed_size(conn, at_least=second)
            if not 0 < first <= second <= committed:
                raise BadRequest(
                    f"A consistency proof needs 0 < first <= second <= {committed} (the log size)",
                    expression="second" if second > committed else "first",
                    code="GW-1303",
                )
            proof = audit_nodes.consistency(conn, first, second, log.nodes)
        return {"first": first, "second": second, "proof": [_b64(h) for h in proof]}

    return JSONResponse(await _serve(access, work))


def _instant(request: Request, name: str, *, end: bool) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        low, high = parse_range(raw, what=name)
    except BadRequest as e:
        raise BadRequest(e.diagnostics, expression=name, code=e.code) from None
    return high if end else low


@router.get("/audit/export", include_in_schema=False)
async def export(request: Request) -> Response:
    """``since`` includes the period it names, and so does ``until`` (``until=2026-03``
    runs to the end of March)."""
    access = _Access(request, "auditor", "audit-export")

    def work() -> audit_reads.ExportFilter:
        return audit_reads.ExportFilter(
            agent=request.query_params.get("agent") or None,
            since=_instant(request, "since", end=False),
            until=_instant(request, "until", end=True),
        )

    which = await _serve(access, work)
    return StreamingResponse(
        audit_reads.export_lines(access.log.engine, which),
        media_type="application/x-ndjson",
    )


ACCESS_LOG_PARAMS = frozenset({"before", "_count"})


def _only_params(request: Request, known: frozenset[str] | set[str]) -> None:
    """A parameter the endpoint does not define is a 400 naming it: ignoring it would
    answer another question than the one asked (``?since=2026`` is not a filter here)."""
    for name in request.query_params:
        if name not in known:
            listed = ", ".join(sorted(known))
            raise BadRequest(
                f"'{name[:120]}' is not a parameter of this endpoint (it takes {listed})",
                expression=name[:120],
                code="GW-1112",
            )


@router.get("/me/access-log", include_in_schema=False)
async def access_log(request: Request) -> Response:
    access = _Access(request, "patient", "access-log")

    def work() -> dict[str, Any]:
        ctx = access.ctx  # admitted by now
        _only_params(request, ACCESS_LOG_PARAMS | ({"patient"} if ctx.kind == "dev" else set()))
        patient = ctx.patient if ctx.kind == "patient" else request.query_params.get("patient")
        if not patient:
            raise BadRequest("Which patient? (dev callers pass ?patient=)", code="GW-1302")
        if ctx.kind == "patient":
            # A patient is known by their INS; the log names the Patient resource id.
            with access.log.engine.connect() as conn:
                blind = request.app.state.services.blind
                ids = patient_ids_for_ins(conn, patient, blind.identifier)
            patient = ids[0] if ids else patient
        count = min(_int(request, "_count", default=100), MAX_ACCESS_LOG)
        before = _int(request, "before") if request.query_params.get("before") else None
        return _access_log(access.log, patient, count=count, before=before)

    return JSONResponse(await _serve(access, work))


def _access_log(log: AuditLog, patient: str, *, count: int, before: int | None) -> dict[str, Any]:
    with log.engine.connect() as conn:
        size = read_head(conn, lock=False).size
        rows = audit_reads.patient_entries(conn, patient, upto=size, before=before, limit=count)
        cp = audit_checkpoints.latest(conn)
    if rows and (cp is None or cp.size <= rows[0][0]):
        cp = log.checkpoint()  # sign now rather than show an entry without its proof
    entries: list[dict[str, Any]] = []
    if rows and cp is not None:
        with log.engine.connect() as conn:
            proofs = audit_nodes.inclusion_proofs(
                conn, [seq for seq, _ in rows], cp.size, log.nodes
            )
        for (seq, content), proof in zip(rows, proofs, strict=True):
            view = access_view(seq, content)
            # The leaf hash, never the entry's bytes: an entry may name other patients
            # (a search over several, its raw query), which this patient must not see.
            # The proof shows the entry is in the signed log; an auditor holds its bytes.
            view["leaf_hash"] = _b64(leaf_hash(content))
            view["proof"] = {"index": seq, "size": cp.size, "hashes": [_b64(h) for h in proof]}
            entries.append(view)
    return {
        "patient": f"Patient/{patient}",
        "checkpoint": cp.note if cp is not None else None,
        "entries": entries,
        "next_before": rows[-1][0] if len(rows) == count else None,
    }
