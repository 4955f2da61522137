"""``/ingest``: HL7 v2 messages, CSV exports and the quarantine, over HTTP.

===============================================  =========================================
``POST /ingest/hl7v2``                           one ER7 message → its HL7 ACK (200,
                                                 ``x-application/hl7-v2+er7``); AA, AE or
                                                 AR is in MSA-1, not in the HTTP status
``POST /ingest/csv/{kind}``                      one export (residents, vitals,
                                                 administrations, care-notes) → an
                                                 OperationOutcome summary (200; 400 when
                                                 the file as a whole is unusable)
``GET /ingest/quarantine``                       entries, newest first (filters below)
``GET /ingest/quarantine/{id}``                  one entry
``POST /ingest/quarantine/{id}/$replay``         retry it (after fixing the mapping or
                                                 the referenced data)
``DELETE /ingest/quarantine/{id}``               discard it (payload erased; audited)
===============================================  =========================================

Authentication is that of ``/fhir`` (bearer token → AccessContext); the sender's
structure gives the FINESS of its local identifier systems (:mod:`gateway.intake.sender`).
With ``GATEWAY_AUTH=disabled`` (dev only) the open caller names it: ``?finess=``.
Response headers: ``X-Ingest-Status`` (accepted, duplicate, quarantined; on a replay of
a partly failed batch, mixed),
``X-Ingest-First-Status`` on a duplicate, ``X-Quarantine-Id``, ``X-Provenance``.

Quarantine filters: ``source`` (a client id: an admin's listing shows that client's
entries; a sender's shows its own entries, so another client's id lists none),
``kind`` (``ADT^A01``, ``csv:vitals``…), ``reason``
(rejected, conflict, review), ``status`` (open, replayed, discarded), ``date`` with a
FHIR prefix (``ge2026-01-01``, ``lt2026-02-01T00:00:00Z``; repeatable), ``_count``
(1-500, default 50) and ``cursor`` (from the ``next`` link). As in a FHIR search, an
unknown parameter or an invalid value is a 400 naming it (``GW-1100`` unknown,
``GW-1102`` a repeated filter or an unserved date prefix, ``GW-1103`` a malformed value,
``GW-1106`` ``_count``, ``GW-1601`` ``cursor``); an empty value is no filter.
"""

from __future__ import annotations

import codecs
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, Response

from gateway.access.context import AccessContext
from gateway.api.caller import authenticated
from gateway.api.responses import FHIR_JSON_UTF8
from gateway.errors import BadRequest, NotFound
from gateway.fhir.instant import to_micros
from gateway.fhir.json import dumps
from gateway.intake import Intake, QuarantineDesk, QuarantineQuery, Sender, sender_for
from gateway.intake.report import file_outcome, replay_result
from gateway.search.problems import (
    INVALID_CONTROL,
    UNSUPPORTED_VALUE,
    invalid,
    shown,
    unsupported,
)

router = APIRouter()
HL7_MEDIA = "x-application/hl7-v2+er7"
_LOCK = threading.Lock()
_PREFIXES = ("ge", "gt", "le", "lt", "eq")
_UNSERVED_PREFIXES = ("ne", "sa", "eb", "ap")
_REASONS = ("rejected", "conflict", "review")
_STATUSES = ("open", "replayed", "discarded")
# Every parameter of a listing; the ``next`` links carry only these (and ``cursor``).
_QUARANTINE_PARAMS = frozenset({"source", "kind", "reason", "status", "date", "_count", "cursor"})
INVALID_CURSOR = "GW-1601"  # as the FHIR searchset's and the change feed's cursors
_IANA = {"iso8859-1": "iso-8859-1", "iso8859-15": "iso-8859-15", "cp1252": "windows-1252"}


def _intake(request: Request) -> Intake:
    """The pipeline of this app, loaded once (ConceptMaps and mappings) on first use."""
    state = request.app.state
    services = state.services
    intake: Intake | None = getattr(state, "intake", None)
    if intake is None or intake.services is not services:
        with _LOCK:
            intake = getattr(state, "intake", None)
            if intake is None or intake.services is not services:
                intake = Intake.load(services)
                state.intake = intake
    return intake


async def _caller(request: Request) -> AccessContext:
    return await authenticated(request)


async def _sender(request: Request) -> tuple[Intake, Sender]:
    ctx = await _caller(request)
    intake = await run_in_threadpool(_intake, request)
    return intake, sender_for(ctx, dev_finess=request.query_params.get("finess"))


@router.post("/ingest/hl7v2", include_in_schema=False)
async def ingest_hl7v2(request: Request) -> Response:
    intake, sender = await _sender(request)
    body = await request.body()
    if not body.strip():
        raise BadRequest("The body must be one HL7 v2 message (ER7)", code="GW-1001")
    outcome = await run_in_threadpool(intake.hl7v2, body, sender)
    headers: dict[str, str] = {"X-Ingest-Status": outcome.status}
    if not outcome.first and outcome.first_status:
        headers["X-Ingest-First-Status"] = outcome.first_status
    if outcome.quarantine_id:
        headers["X-Quarantine-Id"] = outcome.quarantine_id
    if outcome.provenance:
        headers["X-Provenance"] = f"Provenance/{outcome.provenance}"
    return Response(
        outcome.ack_bytes,
        status_code=200,
        headers=headers,
        media_type=f"{HL7_MEDIA}; charset={_http_charset(outcome.charset)}",
    )


def _http_charset(name: str) -> str:
    """The IANA name of a Python codec (``latin-1`` → ``iso-8859-1``)."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return "utf-8"
    return _IANA.get(canonical, canonical)


@router.post("/ingest/csv/{kind}", include_in_schema=False)
async def ingest_csv(request: Request, kind: str) -> Response:
    intake, sender = await _sender(request)
    if kind not in intake.mappings:
        raise NotFound(
            f"Unknown CSV kind {kind!r}; known: {', '.join(intake.csv_kinds)}", code="GW-3002"
        )
    body = await request.body()
    name = request.headers.get("x-file-name")
    outcome = await run_in_threadpool(intake.csv, body, kind, sender, name=name)
    status = (
        400
        if outcome.unreadable and not any(r.status != "quarantined" for r in outcome.rows)
        else 200
    )
    counts = outcome.counts
    headers = {f"X-Ingest-{k.capitalize()}": str(v) for k, v in counts.items()}
    return Response(
        dumps(file_outcome(outcome)),
        status_code=status,
        headers=headers,
        media_type=FHIR_JSON_UTF8,
    )


# -- quarantine --------------------------------------------------------------------------


def _instant(value: str, *, end: bool) -> int:
    """Microseconds of a date (its start, or the next day's start) or an instant."""
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).replace(tzinfo=UTC)
            return to_micros(day + timedelta(days=1) if end else day)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("date", f"Invalid date '{shown(value)}'") from None
    if moment.tzinfo is None:
        raise invalid("date", f"The date-time '{shown(value)}' needs a time zone")
    return to_micros(moment)


def _one(params: QueryParams, name: str, code: str = UNSUPPORTED_VALUE) -> str | None:
    """The value of a parameter given at most once; an empty value counts as absent."""
    values = params.getlist(name)
    if len(values) > 1:
        message = f"'{name}' may appear only once"
        if code == INVALID_CONTROL:
            raise invalid(name, message, code)
        raise unsupported(name, message, code)
    return values[0] if values and values[0] != "" else None


def _among(params: QueryParams, name: str, allowed: tuple[str, ...]) -> str | None:
    value = _one(params, name)
    if value is not None and value not in allowed:
        raise invalid(name, f"Invalid {name} '{shown(value)}': one of {', '.join(allowed)}")
    return value


def _query(request: Request) -> QuarantineQuery:
    """The filters of a listing. Unknown parameters and invalid values are a 400 naming
    the parameter, with the codes of the FHIR search (:mod:`gateway.search.problems`);
    an empty value (``kind=``) is no filter, as in a FHIR search."""
    params = request.query_params
    for name in params:
        if name not in _QUARANTINE_PARAMS:
            raise unsupported(
                name,
                f"Unknown quarantine parameter '{shown(name)}': "
                f"{', '.join(sorted(_QUARANTINE_PARAMS))}",
            )
    low: int | None = None
    high: int | None = None
    for raw in params.getlist("date"):
        if raw == "":
            continue
        if raw[:2] in _UNSERVED_PREFIXES:
            raise unsupported(
                "date",
                f"Unsupported date prefix '{raw[:2]}': {', '.join(_PREFIXES)}",
                UNSUPPORTED_VALUE,
            )
        prefix, value = (raw[:2], raw[2:]) if raw[:2] in _PREFIXES else ("eq", raw)
        if prefix in ("ge", "eq"):
            low = max(low or 0, _instant(value, end=False))
        if prefix == "gt":
            low = max(low or 0, _instant(value, end=True))
        if prefix in ("lt",):
            high = min(high or 2**62, _instant(value, end=False))
        if prefix in ("le", "eq"):
            high = min(high or 2**62, _instant(value, end=True))
    raw_count = _one(params, "_count", INVALID_CONTROL)
    count = 50
    if raw_count is not None:
        if not raw_count.isdigit() or not 1 <= int(raw_count) <= 500:
            raise invalid(
                "_count",
                f"_count must be a number between 1 and 500, not '{shown(raw_count)}'",
                INVALID_CONTROL,
            )
        count = int(raw_count)
    before = None
    cursor = _one(params, "cursor", INVALID_CONTROL)
    if cursor:
        received, _, entry_id = cursor.partition(".")
        if not received.isdigit() or not entry_id:
            raise invalid("cursor", "Invalid paging cursor in 'cursor'", INVALID_CURSOR)
        before = (int(received), entry_id)
    return QuarantineQuery(
        source=_one(params, "source"),
        kind=_one(params, "kind"),
        reason=_among(params, "reason", _REASONS),
        status=_among(params, "status", _STATUSES),
        received_from=low,
        received_to=high,
        before=before,
        limit=count,
    )


async def _desk(request: Request) -> tuple[QuarantineDesk, AccessContext]:
    ctx = await _caller(request)
    intake = await run_in_threadpool(_intake, request)
    return QuarantineDesk(intake), ctx


@router.get("/ingest/quarantine", include_in_schema=False)
async def quarantine_list(request: Request) -> Response:
    desk, ctx = await _desk(request)
    page = await run_in_threadpool(desk.search, ctx, _query(request))
    body: dict[str, Any] = {"entries": page.entries}
    if page.next_cursor is not None:
        received, entry_id = page.next_cursor
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        query = urlencode([*kept, ("cursor", f"{received}.{entry_id}")])
        body["next"] = str(request.url.replace(query=query))
    return JSONResponse(body)


@router.get("/ingest/quarantine/{entry_id}", include_in_schema=False)
async def quarantine_show(request: Request, entry_id: str) -> Response:
    desk, ctx = await _desk(request)
    return JSONResponse(await run_in_threadpool(desk.show, ctx, entry_id))


@router.post("/ingest/quarantine/{entry_id}/$replay", include_in_schema=False)
async def quarantine_replay(request: Request, entry_id: str) -> Response:
    desk, ctx = await _desk(request)
    outcome = await run_in_threadpool(desk.replay, ctx, entry_id)
    result = replay_result(outcome)
    return JSONResponse(result, headers={"X-Ingest-Status": result["status"]})


@router.delete("/ingest/quarantine/{entry_id}", include_in_schema=False)
async def quarantine_discard(request: Request, entry_id: str) -> Response:
    desk, ctx = await _desk(request)
    await run_in_threadpool(desk.discard, ctx, entry_id)
    return Response(status_code=204)
