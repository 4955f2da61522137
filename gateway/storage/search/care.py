"""``$everything``'s care-date range (:class:`~gateway.search.query.CareDateClause`).

A resource matches when none of its care-date index rows exists (its type has no care
date, or the element is absent) or one of them overlaps ``[low, high)``. Ranges, not
points: a stay from 2 to 9 May is in ``start=2020-05-09``, an episode without an end is
in every range after its start (:mod:`gateway.search.care_dates`).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, true

from gateway.search.query import CareDateClause
from gateway.storage import schema as s
from gateway.storage.search.scope import Subject, type_condition

D = s.idx_date


def care_date_predicate(subject: Subject, clause: CareDateClause) -> ColumnElement[bool]:
    by_code: dict[str, list[str]] = {}
    for rtype, code in clause.params:
        by_code.setdefault(code, []).append(rtype)
    if not by_code:
        return true()
    care_row = or_(
        *(
            and_(D.c.param == code, *type_condition(D, tuple(types)))
            for code, types in sorted(by_code.items())
        )
    )
    own = D.c.resource_pk == subject.pk
    overlaps = and_(D.c.high > clause.low, D.c.low < clause.high)
    return or_(~exists().where(own, care_row), exists().where(own, care_row, overlaps))
