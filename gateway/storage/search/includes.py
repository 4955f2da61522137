"""``_include`` and ``_revinclude`` (https://hl7.org/fhir/R4/search.html#include).

- include ``Source:param[:Target]``: the current resources that the ``param``
  references of the given resources (those of type ``Source``) point to;
- revinclude ``Source:param[:Target]``: the current ``Source`` resources whose
  ``param`` references point to one of the given resources;
- ``*`` (as the parameter or as the whole value): any reference parameter.

Both return candidates in primary-key order, before access filtering.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from gateway.search.query import Include
from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.search.rows import VERSION_COLUMNS

R = s.idx_reference
RES = s.resource


def include_statement(
    include: Include,
    sources: Sequence[StoredVersion],
    limit: int,
    target_types: Collection[str] | None = None,
) -> Select[Any] | None:
    pks = [
        v.pk for v in sources if v.pk is not None and include.source_type in ("*", v.resource_type)
    ]
    if not pks:
        return None
    # Only conditions on the source rows here: with a condition on the target columns,
    # SQLite walks the (target_type, target_id) index over every reference instead.
    conds: list[ColumnElement[bool]] = [R.c.resource_pk.in_(pks)]
    if include.param is not None:
        conds.append(R.c.param == include.param)
    targets = select(R.c.target_type, R.c.target_id).where(*conds).distinct().subquery("targets")
    joined = RES.join(
        targets,
        and_(RES.c.resource_type == targets.c.target_type, RES.c.id == targets.c.target_id),
    )
    found: list[ColumnElement[bool]] = [RES.c.deleted.is_(False)]
    if include.target_type is not None:
        found.append(RES.c.resource_type == include.target_type)
    if target_types is not None:
        found.append(RES.c.resource_type.in_(sorted(target_types)))
    return (
        select(*VERSION_COLUMNS).select_from(joined).where(*found).order_by(RES.c.pk).limit(limit)
    )


def revinclude_statement(
    include: Include, targets: Sequence[StoredVersion], limit: int
) -> Select[Any] | None:
    by_type: dict[str, list[str]] = {}
    for v in targets:
        if include.target_type in (None, v.resource_type):
            by_type.setdefault(v.resource_type, []).append(v.id)
    if not by_type:
        return None
    pointing = [
        and_(R.c.target_type == rtype, R.c.target_id.in_(ids)) for rtype, ids in by_type.items()
    ]
    conds: list[ColumnElement[bool]] = [pointing[0] if len(pointing) == 1 else or_(*pointing)]
    if include.source_type != "*":
        conds.append(R.c.resource_type == include.source_type)
    if include.param is not None:
        conds.append(R.c.param == include.param)
    sources = select(R.c.resource_pk).where(*conds)
    return (
        select(*VERSION_COLUMNS)
        .where(RES.c.pk.in_(sources), RES.c.deleted.is_(False))
        .order_by(RES.c.pk)
        .limit(limit)
    )
