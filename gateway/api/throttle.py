"""Rate limits at the API edge: after authentication, before any work.

:meth:`Throttle.admit` draws the request's tokens (:mod:`gateway.auth.throttle`) with
the calling client's limits from the registry. A refusal is a 429 OperationOutcome
(``GW-1029``) with ``Retry-After`` in whole seconds, counted in ``/metrics`` and audited
like any refused interaction (a REST AuditEvent, outcome 4, ``rate-limit`` operation).

A flood must not turn into an audit flood that slows every other caller, so each
worker audits at most one refusal per bucket per ``audit_interval_seconds`` (1 s by
default); the next audited refusal says how many were left out (``outcomeDesc``
``GW-1029 rate limited (+41)``). Every refusal is counted in the metrics.

Redis failures follow ``GATEWAY_RATE_LIMITS__ON_REDIS_ERROR`` (default ``local``):
see :class:`gateway.auth.throttle.FallbackLimiter` and the README.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from gateway.access.context import AccessContext
from gateway.api.metrics import Metrics
from gateway.audit.events import AuditRecord
from gateway.auth import ClientRegistry
from gateway.auth.registry import RateLimit
from gateway.auth.throttle import (
    Bucket,
    LimiterUnavailable,
    RateLimiter,
    RequestClass,
    buckets_for,
)
from gateway.errors import ServiceUnavailable, TooManyRequests
from gateway.record.audit_trail import AuditSink

log = logging.getLogger("gateway.api.throttle")
UNLIMITED_KINDS = frozenset({"anonymous"})


class Throttle:
    def __init__(
        self,
        limiter: RateLimiter,
        registry: Callable[[], ClientRegistry],
        *,
        salt: bytes,
        audit: AuditSink | None,
        metrics: Metrics,
        audit_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = limiter
        self._registry = registry
        self._salt = salt
        self._audit = audit
        self._metrics = metrics
        self._interval = audit_interval
        self._clock = clock
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._quiet: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def limits_of(self, ctx: AccessContext) -> RateLimit:
        client = self._registry().clients.get(ctx.client_id or "")
        return client.rate_limit if client is not None else RateLimit()

    def admit(self, ctx: AccessContext, request_class: RequestClass, query: bytes) -> None:
        """Take the request's tokens, or raise 429 (audited) or 503 (limiter down and
        configured closed)."""
        if ctx.kind in UNLIMITED_KINDS:
            return
        buckets = buckets_for(
            self.limits_of(ctx),
            client_id=ctx.client_id or ctx.kind,
            subject=ctx.subject,
            request_class=request_class,
            salt=self._salt,
        )
        try:
            verdict = self._limiter.take(buckets)
        except LimiterUnavailable:
            raise ServiceUnavailable(
                "The rate limiter is unavailable; retry shortly",
                code="GW-5007",
                headers={"Retry-After": "1"},
            ) from None
        if verdict.allowed:
            return
        scope = verdict.scope or "client"
        self._metrics.rate_limited.labels(scope, ctx.client_id or ctx.kind).inc()
        refusing = next(b for b in buckets if b.scope == scope)
        self._record(ctx, refusing, query)
        wait = max(1, math.ceil(verdict.retry_after))
        who = {"client": "this client", "professional": "this caller", "ingest": "ingestion"}
        raise TooManyRequests(
            f"Rate limit of {who[scope]} reached; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )

    def _record(self, ctx: AccessContext, bucket: Bucket, query: bytes) -> None:
        suppressed = self._due(bucket.key)
        if suppressed is None or self._audit is None:
            return
        reason = "GW-1029 rate limited" + (f" (+{suppressed})" if suppressed else "")
        self._audit.record_standalone(
            AuditRecord(
                interaction="operation",
                ctx=ctx,
                recorded=int(self._wall() * 1_000_000),
                outcome=4,
                reason=reason,
                query=query,
                operation=f"rate-limit:{bucket.scope}",
            )
        )

    def _due(self, key: str) -> int | None:
        """None when this refusal is not to be audited; else how many were left out
        since the last audited refusal of the bucket."""
        now = self._clock()
        with self._lock:
            last, skipped = self._quiet.get(key, (-math.inf, 0))
            if now - last < self._interval:
                self._quiet[key] = (last, skipped + 1)
                return None
            self._quiet[key] = (now, 0)
            self._quiet.move_to_end(key)
            while len(self._quiet) > 10_000:
                self._quiet.popitem(last=False)
            return skipped
