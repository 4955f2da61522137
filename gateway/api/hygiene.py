"""HTTP hygiene: security headers, a minimal ``Server``, strict CORS, a request timeout.

Security headers go on every response the app sends: ``X-Content-Type-Options:
nosniff``, a Content-Security-Policy that allows nothing (the API serves data, never
pages), ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``, ``Cache-Control:
no-store`` unless the endpoint chose otherwise (responses hold health data; no shared
or browser cache may keep them), ``Strict-Transport-Security`` when configured, and
``Server: dmp-gateway`` with no version.

CORS (:class:`StrictCors`) allows only the configured exact origins, without
credentials (tokens travel in ``Authorization``, never cookies); a refused preflight is
a 403 OperationOutcome. With no origins configured there is no CORS at all.

:class:`Timeout` bounds the time to a response's first byte: past it the caller gets a
503 OperationOutcome (``GW-5010``). The work itself may still finish (a write that
commits after the timeout stays committed: a timeout means "outcome unknown", as with
any gateway). The change-feed long-poll gets its wait on top; ingestion
(``ingest_timeout``) gets longer. A response that has started (an export download, an
audit export stream) is never cut.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.interactions import interaction_name, request_class
from gateway.api.metrics import Metrics
from gateway.api.responses import outcome_response
from gateway.config import Settings
from gateway.errors import Forbidden, ServiceUnavailable

CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept",
    "If-Match",
    "If-None-Match",
    "If-None-Exist",
    "If-Modified-Since",
    "Prefer",
    "X-Request-Id",
    "X-File-Name",
]
EXPOSED_HEADERS = [
    "Location",
    "Content-Location",
    "ETag",
    "Last-Modified",
    "Retry-After",
    "X-Request-Id",
    "X-Progress",
    "X-Ingest-Status",
]


def security_headers() -> dict[str, str]:
    """The headers every response carries (also set on the 500s rendered outside the
    middleware stack, :mod:`gateway.api.errors`)."""
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0) -> None:
        self.app = app
        fixed = [
            (k.lower().encode(), v.encode())
            for k, v in security_headers().items()
            if k != "Cache-Control"
        ]
        fixed.append((b"server", b"dmp-gateway"))
        if hsts_seconds:
            fixed.append((b"strict-transport-security", f"max-age={hsts_seconds}".encode()))
        self.fixed = fixed
        self.replaced = frozenset(name for name, _ in fixed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in self.replaced]
                if not any(k == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers + self.fixed
            await send(message)

        await self.app(scope, receive, with_headers)


class StrictCors(CORSMiddleware):
    """Starlette's CORS with exact origins only, no credentials, and refusals as
    OperationOutcomes."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        if any("*" in o for o in origins):
            raise ValueError("CORS origins must be exact")
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = outcome_response(
            Forbidden("CORS preflight refused: origin, method or headers", code="GW-2020")
        )
        refused.headers.update({"Vary": "Origin"})
        return refused


class Timeout:
    def __init__(self, app: ASGIApp, *, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        http = settings.http
        self.default = http.request_timeout
        self.ingest = http.ingest_timeout
        self.long_poll = http.request_timeout + settings.sync.feed_max_wait

    def limit(self, scope: Scope) -> float:
        path, method = scope["path"], scope["method"]
        if path.startswith("/sync/changes"):
            return self.long_poll
        if request_class(method, path) == "ingest":
            return self.ingest
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        abandoned = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return  # the caller already has its 503
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.limit(scope))
        if task in done or started:
            await task  # finished, or streaming: never cut a started response
            return
        abandoned = True
        task.cancel()
        task.add_done_callback(_consume)
        name = interaction_name(scope["method"], scope["path"], None)
        self.metrics.timeouts.labels(name).inc()
        request_id = scope.get("state", {}).get("request_id")
        err = ServiceUnavailable(
            "The request took too long; its outcome is unknown (retry reads, check writes)",
            code="GW-5010",
            headers={"Retry-After": "1"},
        )
        await outcome_response(err, request_id=request_id)(scope, receive, send)


def _consume(task: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
