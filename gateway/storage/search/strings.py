"""String and uri criteria over ``idx_string`` and ``idx_uri``.

String (https://hl7.org/fhir/R4/search.html#string): the default matches values that
*start with* the search value after case and accent normalisation, as a range on the
normalised column (``norm >= v AND norm < v⁺``) so the B-tree index serves it on both
back-ends; ``:exact`` compares the value as written; ``:contains`` is a ``LIKE`` on the
normalised value.

Uri (#uri): equality; ``:below`` matches the value and every uri under it (the value,
then ``/``, then anything); ``:above`` matches the value and every uri it lies under,
cut at each ``/`` (``http://acme.org/fhir/ValueSet/1`` is below ``http://acme.org/fhir``).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_

from gateway.search.query import Clause, StringValue, UriValue
from gateway.storage import schema as s
from gateway.storage.search.scope import SqlContext, Subject, clip, index_match

S = s.idx_string
U = s.idx_uri
_SURROGATES = range(0xD800, 0xE000)


def successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop()) + 1
        if last in _SURROGATES:
            last = 0xE000
        if last <= 0x10FFFF:
            return "".join(chars) + chr(last)
    return None


def prefix_condition(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    prefix = clip(prefix)
    upper = successor(prefix)
    if upper is None:
        return column >= prefix
    return and_(column >= prefix, column < upper)


def like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def string_clause(
    subject: Subject, clause: Clause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    values = [v for v in clause.values if isinstance(v, StringValue)]
    terms: list[ColumnElement[bool]]
    if clause.modifier == "exact":
        texts = list(dict.fromkeys(v.text for v in values))
        terms = [S.c.exact == texts[0] if len(texts) == 1 else S.c.exact.in_(texts)]
    elif clause.modifier == "contains":
        terms = [S.c.norm.like(f"%{like_escaped(v.norm)}%", escape="\\") for v in values]
    else:
        terms = [prefix_condition(S.c.norm, v.norm) for v in values]
    cond = terms[0] if len(terms) == 1 else or_(*terms)
    return index_match(subject, S, clause.param, cond, driver=driver)


def uri_above(value: str) -> list[str]:
    """``value`` and each of its prefixes ending just before a ``/`` (with and without it)."""
    out = [value]
    cut = value.rstrip("/")
    scheme_end = cut.find("://")
    floor = scheme_end + 3 if scheme_end >= 0 else 0
    while True:
        slash = cut.rfind("/")
        if slash < floor:
            break
        cut = cut[:slash]
        out += [cut + "/", cut]
    return list(dict.fromkeys(out))


def uri_clause(
    subject: Subject, clause: Clause, ctx: SqlContext, *, driver: bool
) -> ColumnElement[bool]:
    values = [v.uri for v in clause.values if isinstance(v, UriValue)]
    terms: list[ColumnElement[bool]] = []
    if clause.modifier == "below":
        for v in values:
            terms.append(U.c.uri == clip(v))
            terms.append(prefix_condition(U.c.uri, v.rstrip("/") + "/"))
    elif clause.modifier == "above":
        terms.append(U.c.uri.in_([clip(p) for v in values for p in uri_above(v)]))
    else:
        clipped = [clip(v) for v in values]
        terms.append(U.c.uri == clipped[0] if len(clipped) == 1 else U.c.uri.in_(clipped))
    cond = terms[0] if len(terms) == 1 else or_(*terms)
    return index_match(subject, U, clause.param, cond, driver=driver)
