"""Bearer-token authentication: ``Authorization: Bearer <JWS>`` → :class:`AccessContext`.

The client registry is read from its file and read again when the file changes (checked
at most once a second), so ``dmp-gateway clients add`` takes effect without a restart.
Token ids are marked in the replay guard (Redis when configured, else the database), so a
token is accepted once across every worker. Rejections are 401 OperationOutcomes that
never echo the token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from gateway.access.context import AccessContext
from gateway.auth import ClientRegistry, ReplayGuard, load_registry, verify

Authenticate = Callable[[Mapping[str, str], "str | None"], AccessContext]


class RegistryFile:
    """The client registry, reloaded when its file's modification time changes."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._checked = float("-inf")
        self._registry = ClientRegistry(clients={})

    def current(self) -> ClientRegistry:
        now = self._clock()
        if now - self._checked < 1.0:
            return self._registry
        with self._lock:
            self._checked = now
            try:
                stamp = self._path.stat().st_mtime
            except FileNotFoundError:
                stamp = None
            if stamp != self._stamp:
                self._registry = load_registry(self._path)
                self._stamp = stamp
            return self._registry


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class BearerAuthenticator:
    def __init__(
        self,
        registry: RegistryFile,
        replay: ReplayGuard,
        *,
        audience: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._replay = replay
        self._audience = audience
        self._clock = clock

    def __call__(self, headers: Mapping[str, str], request_id: str | None) -> AccessContext:
        ctx = verify(
            bearer_token(headers),
            self._registry.current(),
            audience=self._audience,
            now=self._clock(),
            replay=self._replay,
        )
        return replace(ctx, request_id=request_id)


def dev_open(headers: Mapping[str, str], request_id: str | None) -> AccessContext:
    """The open caller of ``GATEWAY_AUTH=disabled`` (development only)."""
    return AccessContext.dev_open(request_id)
