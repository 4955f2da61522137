"""Prometheus metrics: what the gateway counts, and ``/metrics`` (text format 0.0.4).

Each app has its own :class:`Metrics` (its own ``CollectorRegistry``), so tests can
build many apps in one process. With ``PROMETHEUS_MULTIPROC_DIR`` set (several uvicorn
workers), prometheus-client keeps the counters and histograms in files there and a
scrape sums every worker's (``MultiProcessCollector``); the directory must be emptied
when the service starts (docker-compose.yml mounts a tmpfs). Database figures
(quarantine, audit log, subscription backlog) are read at scrape time.

Labels never hold raw paths, ids, identifiers or client input: an interaction name
(:mod:`gateway.api.interactions`), a method, a status, a client id from the registry.

Who may read ``/metrics`` (``GATEWAY_TELEMETRY__METRICS``): ``open``, ``token`` (a
bearer of ``GATEWAY_TELEMETRY__METRICS_TOKEN``), or ``off`` (404). ``auto``, the default,
is open in dev and test, token when a token is configured, otherwise off: production
exposes nothing unless told to.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gateway.config import Settings
from gateway.errors import NotFound, Unauthorized
from gateway.storage.ops_stats import operational_stats

router = APIRouter()
log = logging.getLogger("gateway.api.metrics")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The counters and histograms one app updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gateway_http_requests",
            "HTTP requests answered, by interaction, method and status.",
            ["interaction", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "gateway_http_request_duration_seconds",
            "Time to answer a request (to the end of its body), by interaction.",
            ["interaction"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_http_requests_in_flight",
            "Requests being answered.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.ingested = Counter(
            "gateway_ingest_messages",
            "Ingested messages (HL7 v2, FHIR batch/transaction) by channel and outcome.",
            ["channel", "outcome"],
            registry=r,
        )
        self.ingested_rows = Counter(
            "gateway_ingest_csv_rows",
            "Ingested CSV records by outcome (accepted, duplicate, quarantined).",
            ["outcome"],
            registry=r,
        )
        self.rate_limited = Counter(
            "gateway_rate_limit_rejections",
            "Requests refused by a rate limit (429), by bucket scope and client.",
            ["scope", "client"],
            registry=r,
        )
        self.limiter_errors = Counter(
            "gateway_rate_limit_backend_errors",
            "Rate-limit checks that could not reach Redis.",
            registry=r,
        )
        self.timeouts = Counter(
            "gateway_http_timeouts",
            "Requests answered 503 because they passed the request timeout.",
            ["interaction"],
            registry=r,
        )


class StoreCollector(Collector):
    """Figures read from the database at scrape time."""

    def __init__(self, engine: Engine, clock: Any = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = operational_stats(self._engine)
        except SQLAlchemyError as exc:  # the process's own metrics still get scraped
            log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
            yield GaugeMetricFamily(
                "gateway_database_up", "The database answered the metrics queries.", value=0
            )
            return
        yield GaugeMetricFamily(
            "gateway_database_up", "The database answered the metrics queries.", value=1
        )
        now = self._clock()
        yield GaugeMetricFamily(
            "gateway_quarantine_open",
            "Quarantined messages and records awaiting action.",
            value=stats.quarantine_open,
        )
        yield GaugeMetricFamily(
            "gateway_audit_log_entries", "Entries in the audit log.", value=stats.audit_entries
        )
        yield GaugeMetricFamily(
            "gateway_audit_log_unsigned_entries",
            "Audit entries not yet covered by a signed checkpoint.",
            value=stats.audit_entries - stats.audit_checkpointed,
        )
        age = now - stats.audit_checkpoint_time / 1e6 if stats.audit_checkpoint_time else 0.0
        yield GaugeMetricFamily(
            "gateway_audit_checkpoint_age_seconds",
            "Seconds since the last signed audit checkpoint (0: none yet).",
            value=max(0.0, age),
        )
        yield GaugeMetricFamily(
            "gateway_sync_deliveries_pending",
            "Subscription notifications waiting to be delivered.",
            value=stats.deliveries_pending,
        )
        oldest = stats.deliveries_oldest_pending
        yield GaugeMetricFamily(
            "gateway_sync_oldest_pending_delivery_seconds",
            "Age of the oldest pending notification (0: none).",
            value=max(0.0, now - oldest / 1e6) if oldest else 0.0,
        )


def metrics_access(settings: Settings) -> str:
    """``open``, ``token`` or ``off``, with ``auto`` resolved."""
    mode = settings.telemetry.metrics
    if mode != "auto":
        return mode
    if settings.env in ("dev", "test"):
        return "open"
    return "token" if settings.telemetry.metrics_token else "off"


def exposition(metrics: Metrics, store: Collector | None) -> bytes:
    """The text exposition: this process's metrics, or every worker's in multiprocess
    mode, plus the database figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = metrics.registry
    out = generate_latest(registry)
    if store is not None:
        extra = CollectorRegistry(auto_describe=False)
        extra.register(store)
        out += generate_latest(extra)
    return out


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    mode = metrics_access(settings)
    if mode == "off":
        raise NotFound("No endpoint at /metrics", code="GW-3002")
    if mode == "token":
        expected = settings.telemetry.metrics_token
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        ok = (
            expected is not None
            and scheme.lower() == "bearer"
            # Constant time: the metrics token is a shared secret.
            and hmac.compare_digest(value.strip().encode(), expected.get_secret_value().encode())
        )
        if not ok:
            raise Unauthorized("/metrics needs the metrics bearer token", code="GW-2001")
    body = await run_in_threadpool(
        exposition, request.app.state.metrics, getattr(request.app.state, "store_metrics", None)
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
