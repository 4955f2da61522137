"""Search inside a :class:`~gateway.record.reader.RecordReader`: the access seam of search.

SQL finds candidates (:mod:`gateway.storage.search`); every one of them, and every
resource an ``_include``/``_revinclude`` would add, goes through
``reader.visible(version)`` *before* it counts for a page, a total or an include. So
a page holds ``_count`` resources the caller may see, ``Bundle.total`` counts only
those, and the next page starts after the last one the caller saw. What the caller
may not see neither appears nor shows through a count (the HAPI ``canSeeResource``
rule, DESIGN.md "Access is enforced in one place").

Chains, ``_has`` and ``_list`` look *through* other resources. They are resolved first,
in Python, to the linked resources the caller may see (:meth:`SearchExecutor.bound`):
each inner criterion becomes an ``_id`` criterion over those visible resources. So a
criterion is never satisfied by a resource the caller may not see, and cannot be used
as an oracle for hidden content (``Patient?_has:Observation:patient:code=…`` through an
observation masked from the caller matches nothing).

Nothing is cached between requests: each page is a fresh query in the caller's
transaction, so a resource written before the request is found by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from gateway.errors import BadRequest, Issue
from gateway.search.controls import total_mode
from gateway.search.problems import FORBIDDEN_LINK, LIMIT_EXCEEDED
from gateway.search.query import (
    ChainClause,
    Clause,
    Criterion,
    HasClause,
    Include,
    ListClause,
    SearchRequest,
    TokenValue,
)
from gateway.storage.records import StoredVersion
from gateway.storage.search import Candidate, Position

if TYPE_CHECKING:
    from gateway.record.reader import RecordReader

# _total=estimate counts visible matches up to this many candidates, else omits the total.
ESTIMATE_SCAN = 10_000
_COUNT_BATCH = 1000
_WILDCARD = Include("*", None, None, False, False)


@dataclass(slots=True)
class SearchPage:
    """One page: matches in result order, included resources, and where to go next."""

    matches: list[StoredVersion]
    included: list[StoredVersion] = field(default_factory=list)
    total: int | None = None
    next: Position | None = None
    prev: Position | None = None
    issues: list[Issue] = field(default_factory=list)


class SearchExecutor:
    """Runs parsed searches for the caller a reader is bound to.

    ``base``: this server's FHIR base (absolute references under it are local).
    ``lenient``: an exceeded include limit truncates with a warning instead of a 400.
    ``referenced``: for ``$everything``, also include the resources of these types that
    the page references (one level, within the include limit).
    """

    def __init__(
        self,
        reader: RecordReader,
        *,
        base: str = "",
        lenient: bool = False,
        referenced: frozenset[str] | None = None,
    ) -> None:
        self.reader = reader
        self.engine = reader.services.search
        self.base = base
        self.lenient = lenient
        self.referenced = referenced
        self.now = reader.services.clock()

    # -- pages -----------------------------------------------------------------------

    def page(self, request: SearchRequest, position: Position | None = None) -> SearchPage:
        request = self.bound(request)
        count = request.count
        if request.summary == "count" or count == 0:
            return SearchPage([], total=self._total(request, None))
        found, more = self.collect(request, position, count)
        backwards = position is not None and position.backwards
        if backwards:
            found.reverse()
        matches = [c.version for c in found]
        page = SearchPage(matches)
        if found:
            first, last = found[0], found[-1]
            has_later = more if not backwards else True
            has_earlier = (position is not None) if not backwards else more
            page.next = last.after() if has_later else None
            page.prev = first.before() if has_earlier else None
        complete = position is None and not more
        page.total = self._total(request, len(matches) if complete else None)
        page.included, page.issues = self._includes(request, matches)
        return page

    def collect(
        self, request: SearchRequest, position: Position | None, want: int, *, sort: bool = True
    ) -> tuple[list[Candidate], bool]:
        """Up to ``want`` visible matches after ``position``, and whether more exist."""
        found: list[Candidate] = []
        after = position
        batch = max(want + 1, 20)
        while True:
            batch_found = self.engine.candidates(
                self.reader.tx,
                request,
                after=after,
                limit=batch,
                base=self.base,
                now=self.now,
                sort=sort,
            )
            for candidate in batch_found:
                if self.reader.visible(candidate.version):
                    found.append(candidate)
                    if len(found) > want:
                        return found[:want], True
            if len(batch_found) < batch:
                return found, False
            after = batch_found[-1].position
            batch = min(batch * 2, _COUNT_BATCH)

    def count(self, request: SearchRequest, *, cap: int | None = None) -> int | None:
        """How many matches the caller may see; ``None`` past ``cap`` candidates."""
        seen = visible = 0
        after: Position | None = None
        while True:
            batch = self.engine.candidates(
                self.reader.tx,
                request,
                after=after,
                limit=_COUNT_BATCH,
                base=self.base,
                now=self.now,
                sort=False,
            )
            visible += sum(1 for c in batch if self.reader.visible(c.version))
            seen += len(batch)
            if len(batch) < _COUNT_BATCH:
                return visible
            if cap is not None and seen >= cap:
                return None
            after = batch[-1].position

    def _total(self, request: SearchRequest, known: int | None) -> int | None:
        mode = total_mode(request.total, request.count, request.summary)
        if mode == "none":
            return None
        if known is not None:
            return known
        if mode == "accurate":
            return self.count(request)
        if mode == "estimate":
            return self.count(request, cap=ESTIMATE_SCAN)
        return None

    # -- access seam for links ------------------------------------------------------------

    def bound(self, request: SearchRequest) -> SearchRequest:
        """``request`` with its chains, ``_has`` and ``_list`` bound to what the caller may
        see: each linked criterion is answered first, filtered by visibility, and replaced
        by the ids of the visible linked resources (none: the criterion matches nothing)."""
        self.check_types(request)
        if not any(isinstance(c, ChainClause | HasClause | ListClause) for c in request.criteria):
            return request
        return replace(request, criteria=tuple(self._bind(c) for c in request.criteria))

    def _bind(self, criterion: Criterion) -> Criterion:
        if isinstance(criterion, ChainClause):
            targets = tuple(
                replace(t, clause=self._visible_ids(criterion.name, t.target_type, t.clause))
                for t in criterion.targets
            )
            return replace(criterion, targets=targets)
        if isinstance(criterion, HasClause):
            clause = self._visible_ids(criterion.name, criterion.source_type, criterion.clause)
            return replace(criterion, clause=clause)
        if isinstance(criterion, ListClause):
            values = tuple(TokenValue(None, i) for i in criterion.list_ids)
            lists = Clause("_id", "_id", "token", None, values)
            visible = self._visible_ids(criterion.name, "List", lists)
            ids = tuple(v.code for v in visible.values if isinstance(v, TokenValue) and v.code)
            return replace(criterion, list_ids=ids)
        return criterion

    def _visible_ids(self, name: str, rtype: str, clause: Clause) -> Clause:
        """An ``_id`` clause naming the ``rtype`` resources matching ``clause`` that the
        caller may see. Examining more than the limit is a 400: narrow the criterion."""
        sub = SearchRequest(resource_type=rtype, types=(rtype,), criteria=(clause,))
        cap = self.engine.limits.max_link_candidates
        ids: list[str] = []
        after: Position | None = None
        seen = 0
        while True:
            room = min(_COUNT_BATCH, cap + 1 - seen)
            batch = self.engine.candidates(
                self.reader.tx, sub, after=after, limit=room, base=self.base, now=self.now,
                sort=False,
            )  # fmt: skip
            seen += len(batch)
            if seen > cap:
                raise BadRequest(
                    f"'{name}' matches more than {cap} {rtype} resources; add a more "
                    "selective criterion",
                    expression=name,
                    code=LIMIT_EXCEEDED,
                )
            ids += [c.version.id for c in batch if self.reader.visible(c.version)]
            if len(batch) < room:
                break
            after = batch[-1].position
        values = tuple(TokenValue(None, i) for i in ids)
        return Clause("_id", "_id", "token", None, values)

    def check_types(self, request: SearchRequest) -> None:
        """Chains, ``_has`` and ``_list`` read other types: the caller must be allowed to."""
        for criterion in request.criteria:
            if isinstance(criterion, ChainClause):
                types = [t.target_type for t in criterion.targets]
            elif isinstance(criterion, HasClause):
                types = [criterion.source_type]
            elif isinstance(criterion, ListClause):
                types = ["List"]
            else:
                continue
            for rtype in types:
                if not self.reader.may_search_type(rtype):
                    raise BadRequest(
                        f"'{criterion.name}' searches {rtype} resources, which this caller "
                        "may not search",
                        expression=criterion.name,
                        code=FORBIDDEN_LINK,
                    )

    # -- includes -----------------------------------------------------------------------

    def _includes(
        self, request: SearchRequest, matches: list[StoredVersion]
    ) -> tuple[list[StoredVersion], list[Issue]]:
        rules = [*request.includes, *request.revincludes]
        if not matches or (not rules and self.referenced is None):
            return [], []
        limit = self.engine.limits.max_included_per_page
        depth_limit = self.engine.limits.max_iterate_depth
        seen = {v.pk for v in matches}
        added: list[StoredVersion] = []
        frontier = matches
        depth = 0
        while frontier and rules:
            new = self._round(
                rules if depth == 0 else [r for r in rules if r.iterate],
                frontier,
                seen,
                limit + 1 - len(added),
            )
            if depth > depth_limit and new:
                return self._over(
                    added,
                    rules,
                    f"_include/_revinclude :iterate goes deeper than {depth_limit} levels",
                )
            added += new
            if len(added) > limit:
                return self._over(
                    added[:limit],
                    rules,
                    f"the page includes more than {limit} resources; lower _count",
                )
            frontier = new
            depth += 1
            if not any(r.iterate for r in rules):
                break
        issues: list[Issue] = []
        if self.referenced:
            room = limit + 1 - len(added)
            extra = self._round([_WILDCARD], matches, seen, room, self.referenced)
            if len(added) + len(extra) > limit:
                extra = extra[: max(limit - len(added), 0)]
                issues.append(_warning(f"only {limit} referenced resources were added"))
            added += extra
        return added, issues

    def _round(
        self,
        rules: list[Include],
        frontier: list[StoredVersion],
        seen: set[int | None],
        room: int,
        target_types: frozenset[str] | None = None,
    ) -> list[StoredVersion]:
        new: list[StoredVersion] = []
        tx = self.reader.tx
        for rule in rules:
            found = self.engine.included(
                tx, rule, frontier, limit=max(room, 1), target_types=target_types
            )
            for v in found:
                if v.pk in seen:
                    continue
                seen.add(v.pk)
                if self.reader.visible(v):
                    new.append(v)
        return new

    def _over(
        self, kept: list[StoredVersion], rules: list[Include], why: str
    ) -> tuple[list[StoredVersion], list[Issue]]:
        name = "_revinclude" if all(r.reverse for r in rules) else "_include"
        if not self.lenient:
            raise BadRequest(f"Include limit exceeded: {why}", expression=name, code=LIMIT_EXCEEDED)
        return kept, [_warning(f"Some included resources were left out: {why}", name)]


def _warning(text: str, expression: str | None = None) -> Issue:
    return Issue("warning", "too-costly", text, (expression,) if expression else (), LIMIT_EXCEEDED)


def match(
    reader: RecordReader, resource_type: str, params: list[tuple[str, str]], *, limit: int
) -> list[StoredVersion]:
    """Up to ``limit`` visible resources matching ``params`` (strict), in store order.

    For conditional interactions and references; result controls are ignored.
    """
    engine = reader.services.search
    request = engine.parse(resource_type, params)
    request = replace(request, sort=(), includes=(), revincludes=())
    executor = SearchExecutor(reader, base=(reader.services.settings.base_url or "").rstrip("/"))
    request = executor.bound(request)
    found, _more = executor.collect(request, None, limit, sort=False)
    return [c.version for c in found]
