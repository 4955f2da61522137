"""String rows (https://hl7.org/fhir/R4/search.html#string).

Strings as they are; HumanName → each part and the whole name (``text``, else the
parts joined); Address → each line and part; CodeableConcept/Coding → text and
displays; Annotation → text; ContactPoint and Identifier → value; Attachment → title.
``norm`` is :func:`gateway.search.normalise.normalise`, ``exact`` the value as given.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.builders.base import Builder, parts_of, text_of
from gateway.search.normalise import normalise
from gateway.search.rows import IndexRows, StringRow


def _string_add(out: list[StringRow], code: str, text: Any) -> None:
    if isinstance(text, str) and text:
        out.append(StringRow(code, normalise(text), text))


def string_text(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.strings
    for v in values:
        _string_add(out, code, v)


def string_name(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.strings
    for name in values:
        if name.__class__ is not dict:
            continue
        seen: set[str] = set()
        family = parts_of(name.get("family"))
        given, prefix, suffix = (
            parts_of(name.get("given")),
            parts_of(name.get("prefix")),
            parts_of(name.get("suffix")),
        )
        whole = text_of(name.get("text")) or " ".join(prefix + given + family + suffix)
        for part in (*family, *given, *prefix, *suffix, whole):
            if part and part not in seen:
                seen.add(part)
                out.append(StringRow(code, normalise(part), part))


_ADDRESS_PARTS = ("city", "district", "state", "postalCode", "country", "text")


def string_address(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.strings
    for addr in values:
        if addr.__class__ is not dict:
            continue
        seen: set[str] = set()
        for part in (
            *parts_of(addr.get("line")),
            *(p for k in _ADDRESS_PARTS for p in parts_of(addr.get(k))),
        ):
            if part not in seen:
                seen.add(part)
                out.append(StringRow(code, normalise(part), part))


def string_concept(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.strings
    for cc in values:
        if cc.__class__ is not dict:
            continue
        texts = parts_of(cc.get("text")) + parts_of(cc.get("display"))
        codings = cc.get("coding")
        if isinstance(codings, list):
            texts += [d for c in codings if c.__class__ is dict for d in parts_of(c.get("display"))]
        for t in dict.fromkeys(texts):
            _string_add(out, code, t)


def string_field(field: str) -> Builder:
    def build(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
        for v in values:
            if v.__class__ is dict:
                _string_add(rows.strings, code, v.get(field))

    return build
