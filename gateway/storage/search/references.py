"""Reference criteria over ``idx_reference`` (https://hl7.org/fhir/R4/search.html#reference).

``Type/id``, a plain ``id`` (any target type, unless the parameter has one target),
``:Type`` with an id, and absolute URLs. An absolute URL under this server's base is
the local reference it names; any other URL matches the stored URL exactly (a
canonical's ``|version``, when given, must match too). ``:identifier`` matches the
``<param>:identifier`` token rows of ``Reference.identifier``.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_

from gateway.search.query import Clause, ReferenceValue, TokenValue
from gateway.storage import schema as s
from gateway.storage.search.scope import SqlContext, Subject, clip, index_match
from gateway.storage.search.tokens import token_values

R = s.idx_reference


def local_target(v: ReferenceValue, ctx: SqlContext) -> tuple[str | None, str] | None:
    """``(type, id)`` when ``v`` names a resource of this server, else ``None``."""
    if v.url is None:
        return (v.type, v.id) if v.id is not None else None
    if v.version is None and v.id is not None and v.type is not None and ctx.is_local(v.url):
        return v.type, v.id
    return None


def reference_value(v: ReferenceValue, ctx: SqlContext) -> ColumnElement[bool]:
    local = local_target(v, ctx)
    if local is not None:
        rtype, rid = local
        if rtype is None:
            return R.c.target_id == rid
        return and_(R.c.target_id == rid, R.c.target_type == rtype)
    conds = [R.c.url == clip(v.url or "")]
    if v.version is not None:
        conds.append(R.c.version == clip(v.version))
    return conds[0] if len(conds) == 1 else and_(*conds)


def reference_clause(
    subject: Subject, clause: Clause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    if clause.modifier == "identifier":
        tokens = [v for v in clause.values if isinstance(v, TokenValue)]
        return index_match(
            subject, s.idx_token, clause.param + ":identifier", token_values(tokens), driver=driver
        )
    refs = [v for v in clause.values if isinstance(v, ReferenceValue)]
    local_ids: dict[str | None, list[str]] = {}
    terms: list[ColumnElement[bool]] = []
    for v in refs:
        local = local_target(v, ctx)
        if local is not None:
            local_ids.setdefault(local[0], []).append(local[1])
        else:
            terms.append(reference_value(v, ctx))
    for rtype, ids in local_ids.items():
        ident = R.c.target_id == ids[0] if len(ids) == 1 else R.c.target_id.in_(ids)
        terms.append(ident if rtype is None else and_(ident, R.c.target_type == rtype))
    cond = terms[0] if len(terms) == 1 else or_(*terms)
    return index_match(subject, R, clause.param, cond, driver=driver)
