"""The replay guard: each token id (``jti``) may be used once until the token expires.

:class:`ReplayGuard` is the small Protocol the verifier needs. Implementations must mark
and report *atomically* (Redis ``SET key 1 NX EXAT exp``; a database ``INSERT`` on a unique
key), so two workers cannot both accept the same token. The verifier passes the key
``<client id>:<jti>`` so that two clients' ids never collide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class ReplayGuard(Protocol):
    def seen(self, jti: str, exp: int) -> bool:
        """Mark ``jti`` as used until ``exp`` (Unix seconds); True if it already was."""
        ...


class InMemoryReplayGuard:
    """A process-local guard for tests and the embedded single-worker mode.

    Entries are forgotten once their token has expired (plus ``grace`` seconds, to cover
    the verifier's clock skew), so memory stays bounded by the tokens alive at once.
    """

    def __init__(self, clock: Callable[[], float] = time.time, grace: int = 60) -> None:
        self._clock = clock
        self._grace = grace
        self._expiry: dict[str, int] = {}
        self._next_purge = 0.0
        self._lock = threading.Lock()

    def seen(self, jti: str, exp: int) -> bool:
        with self._lock:
            now = self._clock()
            if now >= self._next_purge:
                self._expiry = {k: v for k, v in self._expiry.items() if v + self._grace > now}
                self._next_purge = now + 10
            known = self._expiry.get(jti)
            if known is not None and known + self._grace > now:
                return True
            self._expiry[jti] = exp
            return False

    def __len__(self) -> int:
        return len(self._expiry)
