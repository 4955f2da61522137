"""Token buckets: the in-memory and the Redis limiter obey one contract; the bucket plan
keeps ingestion apart from reads and never puts a subject in a key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from gateway.auth.registry import Rate, RateLimit
from gateway.auth.throttle import (
    Bucket,
    FallbackLimiter,
    LimiterUnavailable,
    MemoryRateLimiter,
    RateLimiter,
    buckets_for,
)
from gateway.cache.ratelimit import RedisRateLimiter
from tests.support import REDIS_URL

# Slow enough that no token comes back while a test runs: counts are exact.
SLOW = Rate(per_second=0.001, burst=3)


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    redis = Redis.from_url(REDIS_URL)
    prefix = f"dmpgw-test-{uuid.uuid4().hex}"
    yield RedisRateLimiter(redis, prefix=prefix)
    for key in redis.scan_iter(f"{prefix}:*"):
        redis.delete(key)
    redis.close()


def _bucket(name: str, rate: Rate = SLOW) -> Bucket:
    return Bucket(f"{{c}}:{name}", "client", rate)


def test_a_bucket_serves_its_burst_then_refuses_with_the_wait(limiter: RateLimiter) -> None:
    bucket = _bucket("a")
    verdicts = [limiter.take([bucket]) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    refused = verdicts[3]
    assert refused.scope == "client"
    # One token at 0.001/s is about 1000 s away.
    assert 900 < refused.retry_after <= 1000


def test_all_or_nothing_across_buckets(limiter: RateLimiter) -> None:
    small = Bucket("{c}:small", "professional", Rate(0.001, 1))
    big = _bucket("big")
    assert limiter.take([big, small]).allowed
    verdict = limiter.take([big, small])
    assert not verdict.allowed
    assert verdict.scope == "professional"
    # The refused request took nothing from the big bucket: 2 tokens are left.
    assert [limiter.take([big]).allowed for _ in range(3)] == [True, True, False]


def test_buckets_are_independent(limiter: RateLimiter) -> None:
    for _ in range(3):
        assert limiter.take([_bucket("x")]).allowed
    assert not limiter.take([_bucket("x")]).allowed
    assert limiter.take([_bucket("y")]).allowed


def test_memory_buckets_refill_with_time() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    bucket = _bucket("r", Rate(2.0, 2))
    assert limiter.take([bucket]).allowed
    assert limiter.take([bucket]).allowed
    refused = limiter.take([bucket])
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take([bucket]).allowed
    assert not limiter.take([bucket]).allowed


def test_ingestion_has_its_own_bucket_and_subjects_are_hashed() -> None:
    limits = RateLimit(50, 100, professional=Rate(10, 20), ingest=Rate(5, 10))
    ins = "285037512345688"
    api = buckets_for(limits, client_id="v", subject=ins, request_class="api", salt=b"s")
    ingest = buckets_for(limits, client_id="v", subject=ins, request_class="ingest", salt=b"s")
    assert [b.scope for b in api] == ["client", "professional"]
    assert [b.scope for b in ingest] == ["ingest"]
    assert not {b.key for b in api} & {b.key for b in ingest}
    assert all(ins not in b.key for b in (*api, *ingest))
    assert all(b.key.startswith("{v}:") for b in (*api, *ingest)), "one Redis Cluster slot"
    other = buckets_for(limits, client_id="v", subject=ins, request_class="api", salt=b"t")
    assert other[1].key != api[1].key, "the hash is keyed"


class _Down:
    def take(self, buckets: object) -> object:
        raise LimiterUnavailable("ConnectionError")


def test_redis_down_falls_back_as_configured() -> None:
    bucket = _bucket("f")
    failures: list[Exception] = []
    local = FallbackLimiter(_Down(), "local", on_failure=failures.append)  # type: ignore[arg-type]
    assert [local.take([bucket]).allowed for _ in range(4)] == [True, True, True, False]
    assert len(failures) == 4
    opened = FallbackLimiter(_Down(), "open")  # type: ignore[arg-type]
    assert all(opened.take([bucket]).allowed for _ in range(10))
    closed = FallbackLimiter(_Down(), "closed")  # type: ignore[arg-type]
    with pytest.raises(LimiterUnavailable):
        closed.take([bucket])


def test_a_real_unreachable_redis_is_reported_as_unavailable() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    with pytest.raises(LimiterUnavailable):
        RedisRateLimiter(redis).take([_bucket("z")])
