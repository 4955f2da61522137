"""The small Protocols the repository depends on, with their embedded defaults.

Each seam is filled by a later layer: profile validation (:mod:`gateway.validation`),
index extraction (:mod:`gateway.search`), access policy (:mod:`gateway.policy`) and the
change events published after commit. The defaults here are real implementations for
the embedded, development set-up, not mocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from gateway.access.context import AccessContext
from gateway.errors import Issue
from gateway.search.rows import IndexRows
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx


class ProfileValidator(Protocol):
    """Validates a structurally valid resource against its profiles; never raises."""

    def validate(self, resource: dict[str, Any]) -> list[Issue]: ...


class Indexer(Protocol):
    """Pure extraction of search index rows and the owning patient of a resource."""

    def rows(self, resource: dict[str, Any]) -> IndexRows: ...

    def patient_of(self, resource: dict[str, Any]) -> str | None: ...


class AccessPolicy(Protocol):
    """The caller-bound access rules (DOMAIN.md §3). Deny unless a rule allows."""

    def may_read(self, ctx: AccessContext, version: StoredVersion) -> bool: ...

    def check_write(
        self,
        ctx: AccessContext,
        action: str,
        resource: dict[str, Any] | None,
        current: StoredVersion | None,
    ) -> None:
        """Raise :class:`gateway.errors.Forbidden` when ``ctx`` may not do ``action``."""


class SearchEngine(Protocol):
    """Finds the current resources matching search parameters, best match order first.

    Returns candidates *before* access filtering; the repository filters them, so
    totals and pages are computed on what the caller may see.
    """

    def candidates(
        self,
        tx: StoreTx,
        resource_type: str | None,
        params: Sequence[tuple[str, str]],
        *,
        after: int | None,
        limit: int,
    ) -> list[StoredVersion]: ...


class CommitListener(Protocol):
    """Told about the versions a transaction committed (change feed, subscriptions)."""

    def committed(self, versions: Sequence[StoredVersion]) -> None: ...


class NoProfiles:
    """Structural validation only."""

    def validate(self, resource: dict[str, Any]) -> list[Issue]:
        return []


class DevOpenPolicy:
    """Everything allowed: only for ``GATEWAY_ENV=dev`` with ``GATEWAY_AUTH=disabled``."""

    def may_read(self, ctx: AccessContext, version: StoredVersion) -> bool:
        return ctx.kind == "dev"

    def check_write(
        self,
        ctx: AccessContext,
        action: str,
        resource: dict[str, Any] | None,
        current: StoredVersion | None,
    ) -> None:
        if ctx.kind != "dev":
            from gateway.errors import Forbidden

            raise Forbidden("Access denied")
