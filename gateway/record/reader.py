"""Reads through the caller-bound repository: what the caller may not see does not exist."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.access.context import AccessContext
from gateway.errors import Gone, NotFound
from gateway.record.search import match
from gateway.record.services import RecordServices
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx


@dataclass(frozen=True, slots=True)
class HistoryPage:
    versions: list[StoredVersion]
    next_before_seq: int | None  # continue with this cursor when not None


class RecordReader:
    """Read operations inside one open transaction, filtered by the access policy."""

    def __init__(self, ctx: AccessContext, services: RecordServices, tx: StoreTx) -> None:
        self.ctx = ctx
        self.services = services
        self._tx = tx

    @property
    def tx(self) -> StoreTx:
        """The open transaction, brought up to date with this unit's pending writes."""
        return self._tx

    def visible(self, version: StoredVersion) -> bool:
        return self.services.policy.may_read(self.ctx, version)

    def may_search_type(self, resource_type: str) -> bool:
        """Whether a chain, ``_has`` or ``_list`` may read ``resource_type`` resources
        for this caller (a 400 otherwise). Every type, until access control says more."""
        return True

    def match(
        self, resource_type: str, params: Sequence[tuple[str, str]], *, limit: int
    ) -> list[StoredVersion]:
        """Up to ``limit`` current resources matching ``params`` that the caller may see
        (the full search grammar, strict), for conditional interactions."""
        return match(self, resource_type, list(params), limit=limit)

    def read(self, resource_type: str, rid: str) -> StoredVersion:
        """The current version; 404 when absent or hidden, 410 when deleted."""
        current = self.tx.current(resource_type, rid)
        if current is None or not self.visible(current):
            raise NotFound(f"{resource_type}/{rid} is not known", code="GW-3004")
        if current.deleted:
            raise Gone(
                f"{resource_type}/{rid} was deleted (version {current.version})",
                headers={"ETag": f'W/"{current.version}"'},
            )
        return current

    def vread(self, resource_type: str, rid: str, version: int) -> StoredVersion:
        found = self.tx.version(resource_type, rid, version)
        if found is None or not self.visible(found):
            raise NotFound(f"{resource_type}/{rid} has no version {version}", code="GW-3006")
        if found.deleted:
            raise Gone(f"Version {version} of {resource_type}/{rid} is a deletion")
        return found

    def history(
        self,
        *,
        resource_type: str | None,
        rid: str | None,
        since: int | None,
        at: tuple[int, int] | None,
        count: int,
        before_seq: int | None,
    ) -> HistoryPage:
        """One page of history, newest first, counted after access filtering."""
        if rid is not None and resource_type is not None:
            current = self.tx.current(resource_type, rid)
            if current is None or not self.visible(current):
                raise NotFound(f"{resource_type}/{rid} is not known")
        picked: list[StoredVersion] = []
        cursor = before_seq
        batch = max(count + 1, 50)
        while len(picked) <= count:
            rows = self.tx.history(
                resource_type=resource_type,
                rid=rid,
                since=since,
                at=at,
                before_seq=cursor,
                limit=batch,
            )
            picked.extend(v for v in rows if self.visible(v))
            if len(rows) < batch:
                break
            cursor = rows[-1].seq
        if len(picked) > count:
            page = picked[:count]
            return HistoryPage(page, page[-1].seq)
        return HistoryPage(picked, None)
