"""Per-request telemetry (pure ASGI): metrics and one log line per request.

Each request is counted and timed under its interaction name
(:func:`gateway.api.interactions.interaction_name`), never its raw path. Ingestion
outcomes are read from the response headers the ingestion endpoints already set
(``X-Ingest-Status``, ``X-Ingest-Accepted``…), so the endpoints need no metrics code.
The log line (logger ``gateway.access``) holds the interaction, method, status,
duration, client id and request id: no path, no query string (they hold identifiers).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.interactions import interaction_name
from gateway.api.metrics import Metrics

log = logging.getLogger("gateway.access")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OUTCOMES = frozenset({"accepted", "duplicate", "quarantined"})
ROW_HEADERS = {b"x-ingest-" + o.encode(): o for o in OUTCOMES}


class Telemetry:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500
        ingest_status: str | None = None
        rows: dict[str, int] = {}

        async def observing_send(message: Message) -> None:
            nonlocal status, ingest_status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    if name == b"x-ingest-status":
                        ingest_status = value.decode("latin-1")
                    elif name in ROW_HEADERS and value.isdigit():
                        rows[ROW_HEADERS[name]] = int(value)
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, observing_send)
        finally:
            self.metrics.in_flight.dec()
            self._observe(scope, status, ingest_status, rows, time.perf_counter() - began)

    def _observe(
        self,
        scope: Scope,
        status: int,
        ingest_status: str | None,
        rows: dict[str, int],
        elapsed: float,
    ) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = scope.get("route")
        name = interaction_name(method, scope["path"], getattr(route, "path", None))
        m = self.metrics
        m.requests.labels(name, method, str(status)).inc()
        m.latency.labels(name).observe(elapsed)
        channel = _channel(method, name)
        if channel is not None and status != 429:
            if ingest_status in OUTCOMES or (channel == "replay" and ingest_status == "mixed"):
                outcome = ingest_status
            elif status < 300 and channel in ("fhir", "csv"):
                outcome = "accepted"
            else:
                outcome = "refused"
            m.ingested.labels(channel, outcome).inc()
        for outcome, count in rows.items():
            m.ingested_rows.labels(outcome).inc(count)
        state = scope.get("state", {})
        log.info(
            "request",
            extra={
                "interaction": name,
                "method": method,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "client": state.get("client_id"),
            },
        )


def _channel(method: str, name: str) -> str | None:
    if method != "POST":
        return None
    if name == "batch-transaction":
        return "fhir"
    if name == "/ingest/hl7v2":
        return "hl7v2"
    if name == "/ingest/csv/{kind}":
        return "csv"
    if name.endswith("/$replay"):
        return "replay"
    return None
