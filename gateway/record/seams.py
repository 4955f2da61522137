"""The small Protocols the repository depends on, with their embedded defaults.

Each seam is filled by a later layer: profile validation (:mod:`gateway.validation`),
index extraction (:mod:`gateway.search`), access policy (:mod:`gateway.policy`) and the
change events published after commit. The defaults here are real implementations for
the embedded, development set-up, not mocks.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway.access.context import AccessContext
from gateway.errors import Issue
from gateway.policy import Action, Decision, PatientFacts, Policy
from gateway.policy.memo import DecisionMemo
from gateway.search import SearchLimits, SearchRegistry, SearchRequest
from gateway.search.query import Include
from gateway.search.rows import IndexRows
from gateway.search.summary import SummaryElements
from gateway.storage.records import StoredVersion
from gateway.storage.search import Candidate, Position
from gateway.storage.store import StoreTx
from gateway.validation import Findings


class ProfileValidator(Protocol):
    """Validation on writes (see :mod:`gateway.record.validation`)."""

    def check(self, resource: dict[str, Any]) -> Findings:
        """One walk of the definitions; raises a 400 on a structural error."""
        ...

    def validate(self, resource: dict[str, Any], findings: Findings | None = None) -> list[Issue]:
        """The profile issues of ``resource`` (from ``findings`` when given); never raises."""
        ...


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

    def current(self, resource_type: str, rid: str) -> StoredVersion | None:
        """The current row of a resource, unfiltered (for the rules' own lookups)."""
        ...

    def decision_memo(self, policy: Policy) -> DecisionMemo:
        """The unit's memo of read decisions (:mod:`gateway.policy.memo`)."""
        ...


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

    def may_search_type(self, unit: AccessUnit, resource_type: str) -> bool:
        """May the caller read resources of this type at all (for chains and ``_has``)?"""
        ...

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
    """Parses searches and lists their candidates in SQL, *before* access filtering.

    The repository filters every candidate and every included resource through the
    access policy (:mod:`gateway.record.search`), so pages, totals and includes count
    only what the caller may see. The implementation is
    :class:`gateway.storage.search.SqlSearch`.
    """

    @property
    def registry(self) -> SearchRegistry: ...

    @property
    def limits(self) -> SearchLimits: ...

    @property
    def summaries(self) -> SummaryElements: ...

    def parse(
        self,
        resource_type: str | None,
        params: Sequence[tuple[str, str]],
        *,
        lenient: bool = False,
        compartment: tuple[str, str] | None = None,
        reserved: Collection[str] = (),
    ) -> SearchRequest: ...

    def describe(self, resource_type: str) -> list[dict[str, str]]: ...

    def candidates(
        self,
        tx: StoreTx,
        request: SearchRequest,
        *,
        after: Position | None,
        limit: int,
        base: str,
        now: int,
        sort: bool = True,
    ) -> list[Candidate]: ...

    def included(
        self,
        tx: StoreTx,
        include: Include,
        resources: Sequence[StoredVersion],
        *,
        limit: int,
        target_types: Collection[str] | None = None,
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


class WriteCheck(Protocol):
    """Refuses (raises a GatewayError) a write of ``resource_type`` that is allowed and
    valid but breaks a store-wide rule (one Patient per INS). Runs after the access and
    profile checks, in the writing transaction ``tx``; ``rid`` is the id it will have."""

    resource_type: str

    def check(
        self, tx: StoreTx, rid: str, resource: dict[str, Any], current: StoredVersion | None
    ) -> None: ...


class CommitListener(Protocol):
    """Told about the versions a transaction committed (change feed, subscriptions)."""

    def committed(self, versions: Sequence[StoredVersion]) -> None: ...


class NoProfiles:
    """Structural validation only."""

    def validate(self, resource: dict[str, Any]) -> list[Issue]:
        return []
