"""The SQL search engine: parse a search, then find its candidates in the database.

:class:`SqlSearch` fills the repository's ``SearchEngine`` seam. It holds the search
parameter registry (loaded once) and the limits; it knows nothing of the caller. The
repository filters every candidate it returns through the access policy *before*
paging, totals and includes (:mod:`gateway.record.search`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.search import (
    BlindIndex,
    SearchLimits,
    SearchRegistry,
    SearchRequest,
    blind_request,
    parse_search,
)
from gateway.search.query import Include
from gateway.search.summary import SummaryElements
from gateway.storage.audit_search import PARAMETER_TYPES
from gateway.storage.records import StoredVersion
from gateway.storage.search.includes import include_statement, revinclude_statement
from gateway.storage.search.keyset import Position, SortValue
from gateway.storage.search.rows import WIDTH, version_of
from gateway.storage.search.scope import SqlContext
from gateway.storage.search.statement import candidates_statement
from gateway.storage.store import StoreTx


@dataclass(frozen=True, slots=True)
class Candidate:
    """A current resource that matches, and its place in the result order."""

    version: StoredVersion
    position: Position

    def after(self) -> Position:
        return Position(self.position.keys, self.position.pk, False)

    def before(self) -> Position:
        return Position(self.position.keys, self.position.pk, True)


class SqlSearch:
    def __init__(
        self,
        registry: SearchRegistry,
        summaries: SummaryElements,
        limits: SearchLimits | None = None,
        *,
        tz: ZoneInfo | None = None,
        blind: BlindIndex | None = None,
    ) -> None:
        self.registry = registry
        self.summaries = summaries
        self.limits = limits or SearchLimits()
        self._tz = tz
        self.blind = blind or BlindIndex.clear(registry)

    def parse(
        self,
        resource_type: str | None,
        params: Sequence[tuple[str, str]],
        *,
        lenient: bool = False,
        compartment: tuple[str, str] | None = None,
        reserved: Collection[str] = (),
    ) -> SearchRequest:
        """Parse and validate (strict unless ``lenient``); errors name the parameter.

        Identifier values (and hidden names) come back hashed like the index rows."""
        request = parse_search(
            resource_type,
            params,
            self.registry,
            lenient=lenient,
            limits=self.limits,
            tz=self._tz,
            compartment=compartment,
            reserved=reserved,
        )
        return blind_request(request, self.blind, lenient=lenient)

    def describe(self, resource_type: str) -> list[dict[str, str]]:
        """CapabilityStatement ``searchParam`` entries: the served parameters only.

        AuditEvents are searched over the log's own columns
        (:mod:`gateway.storage.audit_search`), not the resource indexes: their entries
        are those parameters, with the R4 definition where the name is an R4 one."""
        if resource_type == "AuditEvent":
            r4 = {
                p["name"]: p["definition"]
                for p in self.registry.capability_search_params(resource_type)
            }
            out = []
            for name, (kind, text) in PARAMETER_TYPES.items():
                entry = {"name": name, "type": kind, "documentation": text}
                if name in r4:
                    entry["definition"] = r4[name]
                out.append(entry)
            return out
        return self.registry.capability_search_params(resource_type)

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
    ) -> list[Candidate]:
        """Up to ``limit`` matches in result order after ``after`` (or before it, when
        ``after.backwards``), before access filtering. ``sort=False`` orders by primary
        key only (for counting)."""
        ctx = SqlContext(tx.dialect, base, now)
        stmt, columns = candidates_statement(request, ctx, after=after, limit=limit, sort=sort)
        rows = tx.conn.execute(stmt).all()
        if not rows:
            return []
        backwards = after.backwards if after is not None else False
        out = []
        for row in rows:
            keys = tuple(_plain(v) for v in row[WIDTH:]) if columns else ()
            out.append(Candidate(version_of(row, tx.conn), Position(keys, row[0], backwards)))
        return out

    def included(
        self,
        tx: StoreTx,
        include: Include,
        resources: Sequence[StoredVersion],
        *,
        limit: int,
        target_types: Collection[str] | None = None,
    ) -> list[StoredVersion]:
        """Resources that ``include`` adds for ``resources`` (before access filtering);
        ``target_types`` restricts a forward include to those types."""
        if include.reverse:
            stmt = revinclude_statement(include, resources, limit)
        else:
            stmt = include_statement(include, resources, limit, target_types)
        if stmt is None:
            return []
        return [version_of(row, tx.conn) for row in tx.conn.execute(stmt).all()]


def _plain(value: object) -> SortValue:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)  # pragma: no cover - the sort keys are numbers or text
