"""Reference rows (https://hl7.org/fhir/R4/search.html#reference).

Reference → type/id or URL (see :mod:`gateway.search.references`), plus a
``<param>:identifier`` token row for ``Reference.identifier``; canonical/uri → URL and
version; an inline Resource (``Bundle.entry[0].resource``) → its type and id.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.builders.base import text_of
from gateway.search.builders.token_rows import token_identifier
from gateway.search.references import parse_canonical, parse_reference, reference_type
from gateway.search.rows import IndexRows, ReferenceRow


def reference(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for ref in values:
        if ref.__class__ is not dict:
            continue
        literal = ref.get("reference")
        declared = text_of(ref.get("type"))
        if isinstance(literal, str) and literal:
            if literal.startswith("#"):
                contained = reference_type(ref, root) or declared
                rows.references.append(ReferenceRow(code, contained, None, literal))
            else:
                p = parse_reference(literal, declared)
                rows.references.append(ReferenceRow(code, p.type, p.id, p.url))
        ident = ref.get("identifier")
        if ident.__class__ is dict:
            token_identifier(code + ":identifier", [ident], rows, root, tz)


def reference_canonical(
    code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo
) -> None:
    for v in values:
        if isinstance(v, str) and v:
            p = parse_canonical(v)
            rows.references.append(ReferenceRow(code, p.type, p.id, p.url, p.version))


def reference_resource(
    code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo
) -> None:
    for res in values:
        if res.__class__ is dict and text_of(res.get("resourceType")) and text_of(res.get("id")):
            rows.references.append(ReferenceRow(code, res["resourceType"], res["id"]))
