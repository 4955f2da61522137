"""The small Protocols the repository depends on, with their embedded defaults.

Each seam is filled by a later layer: profile validation (:mod:`gateway.validation`),
index extraction (:mod:`gateway.search`), access policy (:mod:`gateway.policy`) and the
change events published after commit. The defaults here are real implementations for
the embedded, development set-up, not mocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway.access.context import AccessContext
from gateway.errors import Issue
from gateway.policy import Action, Decision, PatientFacts
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


class AccessUnit(Protocol):
    """What the access rules may ask of the unit of work they judge for."""

    @property
    def ctx(self) -> AccessContext: ...

    def patient_facts(self, patient_id: str) -> PatientFacts: ...

    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class WriteGrant:
    """A permitted write: labels to put back (the caller may not remove them), authorship."""

    kept_labels: frozenset[str] = frozenset()
    author: str | None = None
    author_structure: str | None = None
    obligations: tuple[str, ...] = ()


class AccessPolicy(Protocol):
    """The caller-bound access rules (DOMAIN.md §3). Deny unless a rule allows."""

    def may_read(self, unit: AccessUnit, version: StoredVersion, action: Action) -> bool: ...

    def explain(self, unit: AccessUnit, version: StoredVersion, action: Action) -> Decision: ...

    def check_write(
        self,
        unit: AccessUnit,
        action: Action,
        resource: dict[str, Any] | None,
        current: StoredVersion | None,
    ) -> WriteGrant:
        """The grant, or :class:`gateway.errors.Forbidden` (403) naming the rule."""
        ...


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


class WriteHook(Protocol):
    """Adjusts a resource of ``resource_type`` before it is checked and stored (the
    server-set elements of a Subscription, issue 8); raises a GatewayError to refuse it.

    ``unit`` is the writing unit of work; ``current`` the version being replaced (None on
    create). Returns the resource to store.
    """

    resource_type: str

    def prepare(
        self, unit: AccessUnit, resource: dict[str, Any], current: StoredVersion | None
    ) -> dict[str, Any]: ...


class CommitListener(Protocol):
    """Told about the versions a transaction committed (change feed, subscriptions)."""

    def committed(self, versions: Sequence[StoredVersion]) -> None: ...


class NoProfiles:
    """Structural validation only."""

    def validate(self, resource: dict[str, Any]) -> list[Issue]:
        return []
