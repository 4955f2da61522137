"""The token replay guard in the database, for deployments without Redis.

Each ``<client>:<jti>`` is inserted once under a primary key; a second insert fails, which
is how two workers or processes agree that a token was already used. Expired ids are
purged now and then, so the table stays as small as the tokens alive at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from gateway.storage import schema as s
from gateway.storage.engine import WRITE

GRACE_SECONDS = 60  # covers the verifier's clock skew


class SqlReplayGuard:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        self._next_purge = 0.0

    def seen(self, jti: str, exp: int) -> bool:
        now = self._clock()
        try:
            with self._engine.connect().execution_options(**WRITE) as conn, conn.begin():
                if now >= self._next_purge:
                    conn.execute(
                        delete(s.token_jti).where(s.token_jti.c.expires < int(now) - GRACE_SECONDS)
                    )
                    self._next_purge = now + 30
                conn.execute(insert(s.token_jti).values(key=jti[:200], expires=exp))
        except IntegrityError:
            return True
        return False
