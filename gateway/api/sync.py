"""``/sync``: the change feed, the notification signing keys, Bulk Data export status.

HTTP adapters only: authentication (the same bearer tokens as ``/fhir``), then the sync
layer (:mod:`gateway.sync`) does the work, in worker threads; the long-poll waits on the
bus without holding a thread.

- ``GET /sync/changes`` (:mod:`gateway.sync.feed`, parameters in
  :mod:`gateway.sync.feed_params`): a ``history`` Bundle of what the caller may see, in
  commit order, with the ``next`` link to resume;
- ``GET /sync/jwks``: the public key(s) that sign rest-hook notifications (public);
- ``GET|DELETE /sync/export/{job}`` and ``GET /sync/export/{job}/{file}``
  (:mod:`gateway.sync.export_status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, JSONResponse, Response

from gateway.access.context import AccessContext
from gateway.api.caller import authenticated, authenticated_here
from gateway.api.fhir import fhir_base
from gateway.api.responses import FHIR_JSON_UTF8
from gateway.errors import GatewayError
from gateway.events.bus import CHANGES
from gateway.record.audit_trail import Interaction, record_of
from gateway.record.repository import Repository
from gateway.storage.changes import FeedPosition
from gateway.storage.records import StoredVersion
from gateway.sync import export_operation as _export_operation  # noqa: F401 - registers $export
from gateway.sync.export_operation import site_base
from gateway.sync.export_status import cancel, export_file, job_status
from gateway.sync.feed import (
    FeedPage,
    Mark,
    decode_cursor,
    encode_cursor,
    read_feed,
    start_now,
)
from gateway.sync.feed_bundle import feed_bundle
from gateway.sync.feed_params import FeedParams, parse_feed_params
from gateway.sync.runtime import SyncRuntime

router = APIRouter()
log = logging.getLogger("gateway.api.sync")
POLL_WITHOUT_BUS = 1.0


async def _caller(request: Request) -> AccessContext:
    return await authenticated(request)


@router.get("/sync/changes", include_in_schema=False)
async def changes(request: Request) -> Response:
    runtime: SyncRuntime = request.app.state.sync
    arrived = time.monotonic()
    share = runtime.feed_reads if runtime.settings.sync.feed_share_reads else None
    # Reads shared with other callers must have begun after this moment (the request's
    # arrival, then each wake-up): see gateway.sync.feed_share.
    fresh_after = runtime.feed_reads.now()
    query = parse_qsl(request.url.query, keep_blank_values=True)

    def mark() -> str | None:
        # Taken before a read: a commit after it wakes the wait below.
        with contextlib.suppress(Exception):  # a bus that is down: poll the database
            return runtime.bus.latest(CHANGES)
        return None

    def read(
        repo: Repository, params: FeedParams, at: FeedPosition, since: float, m: Mark
    ) -> FeedPage:
        return read_feed(
            repo, at, types=params.types, limit=params.limit, share=share, fresh_after=since, mark=m
        )

    def step(repo: Repository, params: FeedParams, at: FeedPosition, since: float) -> _Step:
        """A read, and when it ends the long-poll, the answer (in the same worker hop:
        under load every hop waits for a core). The bus mark (a round trip to the bus)
        is taken only when there is nothing to answer yet: then the read is made again
        after it, and a commit it misses wakes the wait."""
        page = read(repo, params, at, since, _unmarked)
        remaining = arrived + params.wait - time.monotonic()
        if not page.versions and page.caught_up and remaining > 0:
            page = read(repo, params, page.position, since, mark)
            remaining = arrived + params.wait - time.monotonic()
        if page.versions or not page.caught_up or remaining <= 0:
            return _Step(page, remaining, _answer(request, runtime, repo, params, query, page))
        return _Step(page, remaining, None)

    def first() -> tuple[Repository, FeedParams, _Step]:
        # The caller's authentication and the first read in one hop to a worker thread
        # (and the answer too, when there is no need to wait).
        ctx = authenticated_here(request)
        repo = Repository(ctx, runtime.services)
        try:
            params = parse_feed_params(query, runtime.settings.sync)
            position = FeedPosition()
            if params.cursor is not None:
                position = decode_cursor(repo, params.cursor, params.types)
            elif params.start_now:
                position = start_now(repo, share, fresh_after)
            return repo, params, step(repo, params, position, fresh_after)
        except GatewayError as exc:  # refused (a bad cursor, a bad parameter): recorded
            if exc.status < 500:
                repo.interaction = _interaction(request)
                try:
                    repo.record_failure(exc.status, exc.code)
                finally:
                    repo.interaction = None
            raise

    repo, params, done = await run_in_threadpool(first)
    while done.body is None:
        fresh_after = await _wait(runtime, done.page.mark, done.remaining)
        done = await run_in_threadpool(step, repo, params, done.page.position, fresh_after)
    return Response(done.body, media_type=FHIR_JSON_UTF8)


def _unmarked() -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class _Step:
    page: FeedPage
    remaining: float  # seconds left to long-poll after this read
    body: bytes | None  # the answer, when this read ends the long-poll


def _answer(
    request: Request,
    runtime: SyncRuntime,
    repo: Repository,
    params: FeedParams,
    query: list[tuple[str, str]],
    page: FeedPage,
) -> bytes:
    """What the answer discloses is recorded, durably, before it is built (a 503 with no
    data otherwise): one entry per answer, with one patient entity per patient of its
    versions. Then the Bundle."""
    _record(runtime, repo, _interaction(request), page.versions)
    base = fhir_base(request, runtime.settings)
    return feed_bundle(
        base=base,
        feed_url=f"{site_base(base)}/sync/changes",
        versions=page.versions,
        cursor=encode_cursor(repo, page.position, params.types),
        params=query,
        now=runtime.services.clock(),
        entries=runtime.feed_entries if runtime.settings.sync.feed_share_reads else None,
    )


def _interaction(request: Request) -> Interaction:
    """The feed in the audit log: a system-wide history (its Bundle type), the query as
    sent, and the operation's name."""
    url = request.url
    query = url.path.lstrip("/") + (f"?{url.query}" if url.query else "")
    return Interaction("history-system", query.encode("utf-8"), "sync-changes")


def _record(
    runtime: SyncRuntime,
    repo: Repository,
    interaction: Interaction,
    versions: list[StoredVersion],
) -> None:
    audit = runtime.services.audit
    if audit is not None:
        audit.record_standalone(
            record_of(interaction, repo.ctx, runtime.services.clock(), versions)
        )


async def _wait(runtime: SyncRuntime, mark: str | None, remaining: float) -> float:
    """Until something is published after ``mark``, then ``feed_linger_ms`` more, so that
    one answer carries what a burst of commits wrote; a bus that fails degrades to a 1 s
    poll of the database (the feed is read from there anyway). So does the in-process
    bus, at most: the commits of an MLLP listener, ``dmp-gateway ingest`` or the worker
    (other processes) never reach it. Returns the moment it woke: the next read must
    have begun after it."""
    if mark is not None:
        if not runtime.bus.shared:
            remaining = min(remaining, POLL_WITHOUT_BUS)
        try:
            woken = await runtime.bus.wait_after(CHANGES, mark, remaining)
        except Exception:
            log.warning("the bus failed during a long-poll; polling the database instead")
        else:
            woke = runtime.feed_reads.now()
            linger = runtime.settings.sync.feed_linger_ms / 1000
            if woken and linger:
                await asyncio.sleep(min(linger, remaining))
            return woke
    await asyncio.sleep(min(remaining, POLL_WITHOUT_BUS))
    return runtime.feed_reads.now()


@router.get("/sync/jwks", include_in_schema=False)
async def jwks(request: Request) -> Response:
    runtime: SyncRuntime = request.app.state.sync
    signer = await run_in_threadpool(lambda: runtime.signer)
    return JSONResponse(signer.jwks(), media_type="application/jwk-set+json")


@router.get("/sync/export/{job_id}", include_in_schema=False)
async def export_status(request: Request, job_id: str) -> Response:
    runtime: SyncRuntime = request.app.state.sync
    ctx = await _caller(request)
    url = f"{site_base(fhir_base(request, runtime.settings))}/sync/export/{job_id}"
    answer = await run_in_threadpool(job_status, runtime.services.store, ctx, job_id, url)
    return Response(answer.body or b"", status_code=answer.status, headers=answer.headers)


@router.delete("/sync/export/{job_id}", include_in_schema=False)
async def export_cancel(request: Request, job_id: str) -> Response:
    runtime: SyncRuntime = request.app.state.sync
    ctx = await _caller(request)
    answer = await run_in_threadpool(
        cancel, runtime.services.store, runtime.exports, ctx, job_id, now=runtime.services.clock()
    )
    return Response(answer.body or b"", status_code=answer.status, headers=answer.headers)


@router.get("/sync/export/{job_id}/{name}", include_in_schema=False)
async def export_download(request: Request, job_id: str, name: str) -> Response:
    runtime: SyncRuntime = request.app.state.sync
    ctx = await _caller(request)
    path = await run_in_threadpool(
        export_file, runtime.services, runtime.exports, ctx, job_id, name
    )
    return FileResponse(path, media_type="application/fhir+ndjson")
