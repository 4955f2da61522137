"""Bearer-token authentication: ``Authorization: Bearer <JWS>`` → :class:`AccessContext`.

The client registry is read from its file and read again when the file changes (checked
at most once a second), so ``dmp-gateway clients add`` takes effect without a restart.
Token ids are marked in the replay guard (Redis when configured, else the database), so a
token is accepted once across every worker. Rejections are 401 OperationOutcomes that
never echo the token.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from gateway.access.context import AccessContext
from gateway.audit.entries import authentication_failure
from gateway.auth import ClientRegistry, ReplayGuard, TokenRejected, load_registry, verify
from gateway.auth.rejection import TokenReason
from gateway.storage.audit_log import AuditLog

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
    """Verifies bearer tokens; every rejection is recorded in the audit log (only the
    token's ``jti``, read without trusting it, never the token)."""

    def __init__(
        self,
        registry: RegistryFile,
        replay: ReplayGuard,
        *,
        audience: str,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
        vet: Callable[[AccessContext], TokenReason | None] | None = None,
    ) -> None:
        self._registry = registry
        self._replay = replay
        self._audience = audience
        self._audit = audit
        self._clock = clock
        # What the access rules refuse of the caller itself, whatever it asks for (an
        # emergency mode it may not use): a rejected token, not a 404 on every read.
        self._vet = vet

    def __call__(self, headers: Mapping[str, str], request_id: str | None) -> AccessContext:
        token = bearer_token(headers)
        try:
            ctx = verify(
                token,
                self._registry.current(),
                audience=self._audience,
                now=self._clock(),
                replay=self._replay,
            )
            refused = self._vet(ctx) if self._vet is not None else None
            if refused is not None:
                raise TokenRejected(refused)
        except TokenRejected as exc:
            if self._audit is not None:
                entry = authentication_failure(
                    recorded=int(self._clock() * 1_000_000),
                    origin=self._audit.origin,
                    reason=exc.reason.code,
                    jti=unverified_jti(token),
                    request_id=request_id,
                )
                self._audit.append_standalone([entry])
            raise
        return replace(ctx, request_id=request_id)


def unverified_jti(token: str | None) -> str | None:
    """The ``jti`` claim of a token that failed verification, if it has a readable one."""
    if not token or len(token) > 8192 or token.count(".") != 2:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    except (ValueError, TypeError):
        return None
    jti = payload.get("jti") if isinstance(payload, dict) else None
    return jti[:200] if isinstance(jti, str) else None


def dev_open(headers: Mapping[str, str], request_id: str | None) -> AccessContext:
    """The open caller of ``GATEWAY_AUTH=disabled`` (development only)."""
    return AccessContext.dev_open(request_id)
