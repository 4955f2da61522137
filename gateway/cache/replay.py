"""The token replay guard in Redis: ``SET <key> 1 NX EXAT <exp + grace>`` is atomic, so
any number of workers agree on the first use of a token id. When Redis does not answer,
every token is refused with 503 (fail closed), never accepted on a guess."""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError

from gateway.errors import ServiceUnavailable

GRACE_SECONDS = 60


class RedisReplayGuard:
    def __init__(self, client: Redis, *, prefix: str = "dmpgw:jti:") -> None:
        self._client = client
        self._prefix = prefix

    def seen(self, jti: str, exp: int) -> bool:
        try:
            fresh = self._client.set(self._prefix + jti, b"1", nx=True, exat=exp + GRACE_SECONDS)
        except RedisError:
            # Fail closed: without the shared replay cache a token could be replayed on
            # another worker, so no token is accepted until Redis answers again.
            raise ServiceUnavailable(
                "The token replay cache is unavailable; retry shortly", code="GW-5008"
            ) from None
        return not fresh
