"""The token replay guard in Redis: ``SET <key> 1 NX EXAT <exp + grace>`` is atomic, so
any number of workers agree on the first use of a token id."""

from __future__ import annotations

from redis import Redis

GRACE_SECONDS = 60


class RedisReplayGuard:
    def __init__(self, client: Redis, *, prefix: str = "dmpgw:jti:") -> None:
        self._client = client
        self._prefix = prefix

    def seen(self, jti: str, exp: int) -> bool:
        fresh = self._client.set(self._prefix + jti, b"1", nx=True, exat=exp + GRACE_SECONDS)
        return not fresh
