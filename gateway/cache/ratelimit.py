"""Token buckets in Redis, shared by every worker: one atomic Lua script per request.

The script reads every bucket of the request, refills it from Redis's own clock
(``TIME``, so workers with drifting clocks agree), and takes one token from each only
if all of them hold one: the same arithmetic as
:class:`gateway.auth.throttle.MemoryRateLimiter`. A bucket is a hash (``t`` tokens,
``s`` stamp) that expires once it would be full again, so idle callers cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from gateway.auth.throttle import ALLOWED, Bucket, LimiterUnavailable, Verdict

# KEYS: the buckets; ARGV: per_second and burst of each, in order.
# Returns {index of the refusing bucket (0: none), the wait in seconds as a string}.
TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local levels = {}
local refusing, wait = 0, 0
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local v = redis.call('HMGET', KEYS[i], 't', 's')
  local level, stamp = tonumber(v[1]), tonumber(v[2])
  if level == nil or stamp == nil then level, stamp = burst, t end
  level = math.min(burst, level + math.max(0, t - stamp) * rate)
  levels[i] = level
  if level < 1 then
    local w = (1 - level) / rate
    if w > wait then refusing, wait = i, w end
  end
end
if refusing == 0 then
  for i = 1, #KEYS do
    local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
    redis.call('HSET', KEYS[i], 't', tostring(levels[i] - 1), 's', tostring(t))
    redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
  end
end
return {refusing, tostring(wait)}
"""


class RedisRateLimiter:
    """Buckets under ``<prefix>:rl:`` in Redis."""

    def __init__(self, redis: Redis, *, prefix: str = "dmpgw") -> None:
        self._redis = redis
        self._prefix = f"{prefix}:rl:"
        self._script: Any = redis.register_script(TAKE)

    def take(self, buckets: Sequence[Bucket]) -> Verdict:
        if not buckets:
            return ALLOWED
        keys = [self._prefix + b.key for b in buckets]
        args: list[float | int] = []
        for bucket in buckets:
            args += [bucket.rate.per_second, bucket.rate.burst]
        try:
            refusing, wait = self._script(keys=keys, args=args)
        except RedisError as exc:
            raise LimiterUnavailable(type(exc).__name__) from exc
        index = int(refusing)
        if index == 0:
            return ALLOWED
        return Verdict(False, float(wait), buckets[index - 1].scope)
