"""Token rows (https://hl7.org/fhir/R4/search.html#token).

``code``/``string``/``uri``/``id`` → ``(None, value)``; ``boolean`` → ``true``/``false``;
Coding → ``(system, code)`` with the normalised display for ``:text``; CodeableConcept →
each coding (its display, else the concept's text, for ``:text``) plus a text-only row
when ``.text`` is not already carried; Identifier → ``(system, value)`` with
``type.text`` for ``:text``, and for each ``type`` coding a ``<param>:of-type`` row
(``system`` = the type's system, ``code`` = ``"<type code>|<value>"``); ContactPoint →
``(None, value)``.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.builders.base import text_of
from gateway.search.normalise import normalise
from gateway.search.rows import IndexRows, TokenRow


def token_text(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.tokens
    for v in values:
        if isinstance(v, str) and v:
            out.append(TokenRow(code, None, v))


def token_boolean(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        if v is True or v is False:
            rows.tokens.append(TokenRow(code, None, "true" if v else "false"))


def _coding_row(code: str, c: Any, fallback_text: str | None) -> TokenRow | None:
    if c.__class__ is not dict:
        return None
    # text_of, inlined: three calls per coding, for every concept of every write.
    system, value, display = c.get("system"), c.get("code"), c.get("display")
    if not (isinstance(system, str) and system):
        system = None
    if not (isinstance(value, str) and value):
        value = None
    if system is None and value is None:
        return None
    text = display if isinstance(display, str) and display else fallback_text
    return TokenRow(code, system, value, normalise(text) if text else None)


def token_coding(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        row = _coding_row(code, v, None)
        if row is not None:
            rows.tokens.append(row)


def token_concept(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.tokens
    for cc in values:
        if cc.__class__ is not dict:
            continue
        text = text_of(cc.get("text"))
        codings = cc.get("coding")
        start = len(out)
        if isinstance(codings, list):
            for c in codings:
                row = _coding_row(code, c, text)
                if row is not None:
                    out.append(row)
        if text is not None:
            norm = normalise(text)
            # Whether a coding already carries it, asked only of concepts with a text.
            if norm not in {row.text for row in out[start:] if row.text}:
                out.append(TokenRow(code, None, None, norm))


def token_identifier(
    code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo
) -> None:
    out = rows.tokens
    for ident in values:
        if ident.__class__ is not dict:
            continue
        system, value = text_of(ident.get("system")), text_of(ident.get("value"))
        id_type = ident.get("type")
        type_text = text_of(id_type.get("text")) if id_type.__class__ is dict else None
        if system is None and value is None:
            continue
        out.append(TokenRow(code, system, value, normalise(type_text) if type_text else None))
        if value is not None and id_type.__class__ is dict:
            codings = id_type.get("coding")
            if isinstance(codings, list):
                for c in codings:
                    if c.__class__ is dict and text_of(c.get("code")):
                        out.append(
                            TokenRow(
                                code + ":of-type", text_of(c.get("system")), f"{c['code']}|{value}"
                            )
                        )


def token_contact(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for cp in values:
        if cp.__class__ is dict:
            value = text_of(cp.get("value"))
            if value is not None:
                rows.tokens.append(TokenRow(code, None, value))
