"""Who is calling: the bearer token's :class:`AccessContext`, then the rate limits.

Every endpoint that serves a caller starts here, so no endpoint forgets either step.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway.access.context import AccessContext
from gateway.api.interactions import request_class


def raw_query(request: Request) -> bytes:
    """The request as the audit log records it: path and raw query string."""
    query = request.url.query
    return (request.url.path + (f"?{query}" if query else "")).encode("utf-8")


async def authenticated(request: Request) -> AccessContext:
    return await run_in_threadpool(authenticated_here, request)


def authenticated_here(request: Request) -> AccessContext:
    """:func:`authenticated`, in the calling (worker) thread: the token check and the
    rate limits may wait on the database or Redis. One hop to a worker thread for
    both, not one each: under load every hop waits for a core."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    request_id = getattr(request.state, "request_id", None)
    ctx: AccessContext = request.app.state.authenticate(headers, request_id)
    request.state.client_id = ctx.client_id  # for the request's log line
    throttle = getattr(request.app.state, "throttle", None)
    if throttle is not None:
        kind = request_class(request.method, request.url.path)
        throttle.admit(ctx, kind, raw_query(request))
    return ctx
