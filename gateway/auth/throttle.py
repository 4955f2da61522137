"""Rate limits: token buckets per client, per caller and for ingestion (pure core).

A request takes one token from each of its buckets, all or nothing:

- ``api`` requests (reads, searches, single writes): the client's bucket
  (``rate_limit.per_second``/``burst``) and, when the token names a caller (``sub``:
  a professional's idNat_PS, a patient's INS), that caller's bucket
  (``rate_limit.professional``), so one professional cannot eat a vendor's budget;
- ``ingest`` requests (``/ingest/*`` posts, batch and transaction Bundles): the
  client's ingestion bucket (``rate_limit.ingest``) alone. An EHPAD back-loading years
  of history empties its ingestion bucket, never the buckets its professionals read
  with.

A bucket holds ``burst`` tokens and refills at ``per_second``; an empty one answers with
the wait until it holds a token again (the ``Retry-After``). :class:`MemoryRateLimiter`
keeps buckets in this process (the embedded default, and the fallback when Redis is
down); :class:`gateway.cache.ratelimit.RedisRateLimiter` keeps them in Redis, shared by
every worker, with the same arithmetic in one atomic Lua script. Callers' subjects are
never bucket keys in clear: they are keyed hashes (an INS must not sit in Redis).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from gateway.auth.registry import Rate, RateLimit

RequestClass = Literal["api", "ingest"]
Scope = Literal["client", "professional", "ingest"]


@dataclass(frozen=True, slots=True)
class Bucket:
    """One token bucket: its key (the client id in braces, so a Redis Cluster keeps a
    request's buckets in one slot), what it limits, and its rate."""

    key: str
    scope: Scope
    rate: Rate


@dataclass(frozen=True, slots=True)
class Verdict:
    """``allowed``, or refused by ``scope`` with ``retry_after`` seconds to wait."""

    allowed: bool
    retry_after: float = 0.0
    scope: Scope | None = None


ALLOWED = Verdict(True)


class LimiterUnavailable(Exception):
    """The shared bucket store (Redis) could not answer."""


class RateLimiter(Protocol):
    def take(self, buckets: Sequence[Bucket]) -> Verdict:
        """Take one token from every bucket, or none of them if any is empty."""
        ...


def buckets_for(
    limits: RateLimit,
    *,
    client_id: str,
    subject: str | None,
    request_class: RequestClass,
    salt: bytes,
) -> tuple[Bucket, ...]:
    """The buckets a request of ``client_id`` (and ``subject``) draws from."""
    client = f"{{{client_id}}}"
    if request_class == "ingest":
        return (Bucket(f"{client}:ingest", "ingest", limits.ingest),)
    out = [Bucket(f"{client}:all", "client", Rate(limits.per_second, limits.burst))]
    if subject:
        digest = hmac.new(salt, f"{client_id}\x00{subject}".encode(), hashlib.sha256)
        out.append(
            Bucket(f"{client}:sub:{digest.hexdigest()[:32]}", "professional", limits.professional)
        )
    return tuple(out)


def refill(tokens: float, stamp: float, now: float, rate: Rate) -> float:
    """Tokens in a bucket at ``now`` that held ``tokens`` at ``stamp``."""
    return min(float(rate.burst), tokens + max(0.0, now - stamp) * rate.per_second)


class MemoryRateLimiter:
    """Buckets in this process (thread-safe), at most ``max_buckets`` (least recently
    used dropped first: a dropped bucket comes back full, which errs on serving)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000
    ) -> None:
        self._clock = clock
        self._max = max_buckets
        self._lock = threading.Lock()
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, buckets: Sequence[Bucket]) -> Verdict:
        with self._lock:
            now = self._clock()
            levels: list[float] = []
            refused: Verdict = ALLOWED
            for bucket in buckets:
                tokens, stamp = self._state.get(bucket.key, (float(bucket.rate.burst), now))
                level = refill(tokens, stamp, now, bucket.rate)
                levels.append(level)
                if level < 1.0:
                    wait = (1.0 - level) / bucket.rate.per_second
                    if wait > refused.retry_after:
                        refused = Verdict(False, wait, bucket.scope)
            if refused.allowed:
                for bucket, level in zip(buckets, levels, strict=True):
                    self._state[bucket.key] = (level - 1.0, now)
                    self._state.move_to_end(bucket.key)
                while len(self._state) > self._max:
                    self._state.popitem(last=False)
            return refused


FailurePolicy = Literal["local", "open", "closed"]


class FallbackLimiter:
    """A shared limiter that degrades when its store fails.

    ``local`` (the default) falls back to per-worker buckets: limits loosen by the
    number of workers but still hold, and reads go on. ``open`` lets everything
    through; ``closed`` re-raises :class:`LimiterUnavailable` (the API answers 503).
    """

    def __init__(
        self,
        shared: RateLimiter,
        policy: FailurePolicy,
        *,
        local: RateLimiter | None = None,
        on_failure: Callable[[Exception], None] = lambda exc: None,
    ) -> None:
        self._shared = shared
        self._policy = policy
        self._local = local or MemoryRateLimiter()
        self._on_failure = on_failure

    def take(self, buckets: Sequence[Bucket]) -> Verdict:
        try:
            return self._shared.take(buckets)
        except LimiterUnavailable as exc:
            self._on_failure(exc)
            if self._policy == "closed":
                raise
            if self._policy == "open":
                return ALLOWED
            return self._local.take(buckets)
