"""Token criteria over ``idx_token`` (https://hl7.org/fhir/R4/search.html#token).

``code`` any system; ``|code`` no system; ``system|code``; ``system|`` any code of the
system. ``:text`` is a string match (prefix, case- and accent-insensitive) on the
display or text; ``:of-type`` matches the ``<param>:of-type`` rows the extractor wrote
for identifiers; ``:not`` keeps the resources that have *no* matching token (also
those without any value, as the spec says).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, false, or_

from gateway.search.query import Clause, OfTypeValue, TextValue, TokenValue
from gateway.storage import schema as s
from gateway.storage.search.scope import (
    SqlContext,
    Subject,
    clip,
    index_match,
    no_index_match,
)
from gateway.storage.search.strings import prefix_condition

T = s.idx_token


def token_values(values: Sequence[TokenValue]) -> ColumnElement[bool]:
    """Any of ``values`` (OR), grouped by system so that codes become one ``IN``."""
    groups: dict[str | None, list[str]] = {}
    anycode: list[str | None] = []
    for v in values:
        if v.code is None:
            anycode.append(v.system)
        else:
            groups.setdefault(v.system, []).append(clip(v.code))
    terms: list[ColumnElement[bool]] = []
    for system, codes in groups.items():
        code = T.c.code == codes[0] if len(codes) == 1 else T.c.code.in_(codes)
        terms.append(code if system is None else and_(_system(system), code))
    terms.extend(_system(system) for system in anycode if system is not None)
    if not terms:
        return false()
    return terms[0] if len(terms) == 1 else or_(*terms)


def _system(system: str) -> ColumnElement[bool]:
    return T.c.system.is_(None) if system == "" else T.c.system == clip(system)


def token_clause(
    subject: Subject, clause: Clause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    modifier = clause.modifier
    if modifier == "text":
        texts = [v for v in clause.values if isinstance(v, TextValue)]
        cond = or_(*(prefix_condition(T.c.text, v.norm) for v in texts))
        return index_match(subject, T, clause.param, cond, driver=driver)
    if modifier == "of-type":
        kinds = [v for v in clause.values if isinstance(v, OfTypeValue)]
        cond = or_(
            *(and_(T.c.system == clip(v.type_system), T.c.code == clip(v.code)) for v in kinds)
        )
        return index_match(subject, T, clause.param + ":of-type", cond, driver=driver)
    tokens = [v for v in clause.values if isinstance(v, TokenValue)]
    if modifier == "not":
        return no_index_match(subject, T, clause.param, token_values(tokens))
    return index_match(subject, T, clause.param, token_values(tokens), driver=driver)
