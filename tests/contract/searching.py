"""Helpers for the search contract tests: seed resources with chosen ids, run searches.

Searches run through the real pieces: the repository bound to a caller, the parser,
the SQL engine and the executor that filters through the access policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from gateway.access.context import AccessContext
from gateway.policy import Action, Decision
from gateway.record.repository import Repository
from gateway.record.seams import AccessPolicy, AccessUnit, WriteGrant
from gateway.record.search import SearchExecutor, SearchPage
from gateway.record.services import RecordServices
from gateway.search import SearchRequest
from gateway.storage.records import StoredVersion
from gateway.storage.search import Position

BASE = "http://gw.test/fhir"


def seed(repo: Repository, resources: Iterable[dict[str, Any]]) -> None:
    """Store each resource under its own id (update-as-create), in one transaction."""
    with repo.writing() as w:
        for resource in resources:
            w.update(resource["resourceType"], resource["id"], resource)


def parse(repo: Repository, rtype: str | None, query: str, **kwargs: Any) -> SearchRequest:
    params = parse_qsl(query, keep_blank_values=True)
    return repo.services.search.parse(rtype, params, **kwargs)


def page(
    repo: Repository,
    rtype: str | None,
    query: str,
    position: Position | None = None,
    **kwargs: Any,
) -> SearchPage:
    request = parse(repo, rtype, query, **kwargs)
    with repo.reading() as r:
        executor = SearchExecutor(r, base=BASE, lenient=kwargs.get("lenient", False))
        return executor.page(request, position)


def ids(repo: Repository, rtype: str, query: str, **kwargs: Any) -> list[str]:
    """The ids of every match, in result order (``_count`` large enough by default)."""
    if "_count" not in query:
        query = f"{query}&_count=1000" if query else "_count=1000"
    return [v.id for v in page(repo, rtype, query, **kwargs).matches]


def idset(repo: Repository, rtype: str, query: str) -> set[str]:
    return set(ids(repo, rtype, query))


@dataclasses.dataclass(frozen=True)
class HidingPolicy:
    """A real access policy that hides a chosen set of resources (``Type/id``) from reads
    and allows every write: the seam the access-control issue fills."""

    hidden: frozenset[str]

    def may_read(self, unit: AccessUnit, version: StoredVersion, action: Action) -> bool:
        return f"{version.resource_type}/{version.id}" not in self.hidden

    def explain(self, unit: AccessUnit, version: StoredVersion, action: Action) -> Decision:
        raise NotImplementedError("explanations are not part of this test policy")

    def may_search_type(self, unit: AccessUnit, resource_type: str) -> bool:
        return True

    def check_write(
        self,
        unit: AccessUnit,
        action: Action,
        resource: dict[str, Any] | None,
        current: StoredVersion | None,
    ) -> WriteGrant:
        return WriteGrant()


def with_policy(services: RecordServices, policy: AccessPolicy) -> Repository:
    return Repository(AccessContext.dev_open(), dataclasses.replace(services, policy=policy))


def with_clock(services: RecordServices, now: int) -> Repository:
    return Repository(AccessContext.dev_open(), dataclasses.replace(services, clock=lambda: now))
