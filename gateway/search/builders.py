"""Index rows from typed values: one builder per (search parameter type, FHIR type).

Mappings follow https://hl7.org/fhir/R4/search.html, §3.1.1.4 (data types):

- token: ``code``/``string``/``uri``/``id`` → ``(None, value)``; ``boolean`` →
  ``true``/``false``; Coding → ``(system, code)`` with the display for ``:text``;
  CodeableConcept → each coding, plus a text-only row for ``.text``; Identifier →
  ``(system, value)`` with ``type.text`` for ``:text``; ContactPoint → ``(None, value)``.
  Identifiers also yield ``<param>:of-type`` rows: ``system`` = the type coding's
  system, ``code`` = ``"<type code>|<value>"`` (see :mod:`gateway.search.rows`).
- string: strings; HumanName → each part and the whole name; Address → each part;
  CodeableConcept/Coding → text and displays; Annotation → text.
- date: date/dateTime/instant → their precision range; Period → start to end (open
  ends unbounded); Timing → the outer limits of its events and ``repeat.boundsPeriod``.
- reference: Reference → type/id or URL (see :mod:`gateway.search.references`), plus a
  ``<param>:identifier`` token row for ``Reference.identifier``; canonical/uri → URL
  and version; an inline Resource (``Bundle.entry[0].resource``) → its type and id.
- quantity: Quantity and its specialisations, Money, Range; values with their precision
  range, plus a second row in the canonical UCUM unit (``canonical=True``).
- number: integer/decimal kinds, with their precision range.
- uri: uri/url/canonical/oid/uuid.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.dates import InvalidDate, date_range, period_range
from gateway.search.elements import fhir_type_name
from gateway.search.normalise import normalise
from gateway.search.numbers import InvalidNumber, precision_range, to_decimal
from gateway.search.references import parse_canonical, parse_reference, reference_type
from gateway.search.rows import (
    MAX_INSTANT,
    MIN_INSTANT,
    DateRow,
    IndexRows,
    NumberRow,
    QuantityRow,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)
from gateway.search.ucum import UCUM, to_canonical

Builder = Callable[[str, list[Any], IndexRows, dict[str, Any], ZoneInfo], None]

ISO_4217 = "urn:iso:std:iso:4217"
_TEXTUAL = ("string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown")
_QUANTITIES = (
    "Quantity",
    "Age",
    "Count",
    "Distance",
    "Duration",
    "MoneyQuantity",
    "SimpleQuantity",
)
_NUMBERS = ("integer", "decimal", "positiveInt", "unsignedInt")
_DATES = ("date", "dateTime", "instant")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- token -----------------------------------------------------------------------------


def _token_text(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.tokens
    for v in values:
        if isinstance(v, str) and v:
            out.append(TokenRow(code, None, v))


def _token_boolean(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        if v is True or v is False:
            rows.tokens.append(TokenRow(code, None, "true" if v else "false"))


def _coding_row(code: str, c: Any, fallback_text: str | None) -> TokenRow | None:
    if c.__class__ is not dict:
        return None
    system, value, display = _text(c.get("system")), _text(c.get("code")), _text(c.get("display"))
    if system is None and value is None:
        return None
    text = display or fallback_text
    return TokenRow(code, system, value, normalise(text) if text else None)


def _token_coding(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        row = _coding_row(code, v, None)
        if row is not None:
            rows.tokens.append(row)


def _token_concept(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.tokens
    for cc in values:
        if cc.__class__ is not dict:
            continue
        text = _text(cc.get("text"))
        codings = cc.get("coding")
        displays: set[str] = set()
        if isinstance(codings, list):
            for c in codings:
                row = _coding_row(code, c, text)
                if row is not None:
                    out.append(row)
                    if row.text:
                        displays.add(row.text)
        if text is not None:
            norm = normalise(text)
            if norm not in displays:
                out.append(TokenRow(code, None, None, norm))


def _token_identifier(
    code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo
) -> None:
    out = rows.tokens
    for ident in values:
        if ident.__class__ is not dict:
            continue
        system, value = _text(ident.get("system")), _text(ident.get("value"))
        id_type = ident.get("type")
        type_text = _text(id_type.get("text")) if id_type.__class__ is dict else None
        if system is None and value is None:
            continue
        out.append(TokenRow(code, system, value, normalise(type_text) if type_text else None))
        if value is not None and id_type.__class__ is dict:
            codings = id_type.get("coding")
            if isinstance(codings, list):
                for c in codings:
                    if c.__class__ is dict and _text(c.get("code")):
                        out.append(
                            TokenRow(
                                code + ":of-type", _text(c.get("system")), f"{c['code']}|{value}"
                            )
                        )


def _token_contact(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for cp in values:
        if cp.__class__ is dict:
            value = _text(cp.get("value"))
            if value is not None:
                rows.tokens.append(TokenRow(code, None, value))


# --- string ----------------------------------------------------------------------------


def _string_add(out: list[StringRow], code: str, text: Any) -> None:
    if isinstance(text, str) and text:
        out.append(StringRow(code, normalise(text), text))


def _string_text(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.strings
    for v in values:
        _string_add(out, code, v)


def _parts(value: Any) -> list[str]:
    if isinstance(value, list):
        return [p for p in value if isinstance(p, str) and p]
    return [value] if isinstance(value, str) and value else []


def _string_name(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.strings
    for name in values:
        if name.__class__ is not dict:
            continue
        seen: set[str] = set()
        family = _parts(name.get("family"))
        given, prefix, suffix = (
            _parts(name.get("given")),
            _parts(name.get("prefix")),
            _parts(name.get("suffix")),
        )
        whole = _text(name.get("text")) or " ".join(prefix + given + family + suffix)
        for part in (*family, *given, *prefix, *suffix, whole):
            if part and part not in seen:
                seen.add(part)
                out.append(StringRow(code, normalise(part), part))


_ADDRESS_PARTS = ("city", "district", "state", "postalCode", "country", "text")


def _string_address(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.strings
    for addr in values:
        if addr.__class__ is not dict:
            continue
        seen: set[str] = set()
        for part in (
            *_parts(addr.get("line")),
            *(p for k in _ADDRESS_PARTS for p in _parts(addr.get(k))),
        ):
            if part not in seen:
                seen.add(part)
                out.append(StringRow(code, normalise(part), part))


def _string_concept(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    out = rows.strings
    for cc in values:
        if cc.__class__ is not dict:
            continue
        texts = _parts(cc.get("text")) + _parts(cc.get("display"))
        codings = cc.get("coding")
        if isinstance(codings, list):
            texts += [d for c in codings if c.__class__ is dict for d in _parts(c.get("display"))]
        for t in dict.fromkeys(texts):
            _string_add(out, code, t)


def _string_field(field: str) -> Builder:
    def build(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
        for v in values:
            if v.__class__ is dict:
                _string_add(rows.strings, code, v.get(field))

    return build


# --- date ------------------------------------------------------------------------------


def _date_value(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        if isinstance(v, str):
            try:
                low, high = date_range(v, tz)
            except (InvalidDate, ValueError, OverflowError):
                continue
            rows.dates.append(DateRow(code, low, high))


def _date_period(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for p in values:
        if p.__class__ is not dict:
            continue
        start, end = p.get("start"), p.get("end")
        try:
            bounds = period_range(
                start if isinstance(start, str) else None, end if isinstance(end, str) else None, tz
            )
        except (InvalidDate, ValueError, OverflowError):
            continue
        # An inverted period breaks invariant per-1; validation rejects it, index nothing.
        if bounds is not None and bounds[0] < bounds[1]:
            rows.dates.append(DateRow(code, bounds[0], bounds[1]))


def _date_timing(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for t in values:
        if t.__class__ is not dict:
            continue
        lows: list[int] = []
        highs: list[int] = []
        events = t.get("event")
        for e in events if isinstance(events, list) else ():
            try:
                low, high = date_range(e, tz) if isinstance(e, str) else (None, None)
            except (InvalidDate, ValueError, OverflowError):
                continue
            if low is not None and high is not None:
                lows.append(low)
                highs.append(high)
        repeat = t.get("repeat")
        bounds = repeat.get("boundsPeriod") if repeat.__class__ is dict else None
        if bounds.__class__ is dict:
            start, end = bounds.get("start"), bounds.get("end")
            try:
                rng = period_range(
                    start if isinstance(start, str) else None,
                    end if isinstance(end, str) else None,
                    tz,
                )
            except (InvalidDate, ValueError, OverflowError):
                rng = None
            if rng is not None:
                lows.append(rng[0])
                highs.append(rng[1])
        if lows and min(lows) < max(highs):
            rows.dates.append(
                DateRow(code, max(min(lows), MIN_INSTANT), min(max(highs), MAX_INSTANT))
            )


# --- reference -------------------------------------------------------------------------


def _reference(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for ref in values:
        if ref.__class__ is not dict:
            continue
        literal = ref.get("reference")
        declared = _text(ref.get("type"))
        if isinstance(literal, str) and literal:
            if literal.startswith("#"):
                contained = reference_type(ref, root) or declared
                rows.references.append(ReferenceRow(code, contained, None, literal))
            else:
                p = parse_reference(literal, declared)
                rows.references.append(ReferenceRow(code, p.type, p.id, p.url))
        ident = ref.get("identifier")
        if ident.__class__ is dict:
            _token_identifier(code + ":identifier", [ident], rows, root, tz)


def _reference_canonical(
    code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo
) -> None:
    for v in values:
        if isinstance(v, str) and v:
            p = parse_canonical(v)
            rows.references.append(ReferenceRow(code, p.type, p.id, p.url, p.version))


def _reference_resource(
    code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo
) -> None:
    for res in values:
        if res.__class__ is dict and _text(res.get("resourceType")) and _text(res.get("id")):
            rows.references.append(ReferenceRow(code, res["resourceType"], res["id"]))


# --- quantity and number ---------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    try:
        return to_decimal(value)
    except InvalidNumber:
        return None


def _add_quantity(
    out: list[QuantityRow],
    code: str,
    value: Decimal,
    low: Decimal,
    high: Decimal,
    system: str | None,
    unit_code: str | None,
    unit: str | None,
) -> None:
    out.append(QuantityRow(code, float(value), float(low), float(high), system, unit_code, unit))
    if unit_code is not None and system == UCUM:
        canon = to_canonical(value, unit_code)
        if canon is not None and (canon[0] != unit_code or canon[1] != value):
            c_code = canon[0]
            _, c_low = to_canonical(low, unit_code) or (c_code, low)
            _, c_high = to_canonical(high, unit_code) or (c_code, high)
            out.append(
                QuantityRow(
                    code, float(canon[1]), float(c_low), float(c_high), UCUM, c_code, unit, True
                )
            )


def _quantity(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for q in values:
        if q.__class__ is not dict:
            continue
        value = _decimal(q.get("value"))
        if value is None:
            continue
        low, high = precision_range(value)
        _add_quantity(
            rows.quantities,
            code,
            value,
            low,
            high,
            _text(q.get("system")),
            _text(q.get("code")),
            _text(q.get("unit")),
        )


def _money(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for m in values:
        if m.__class__ is not dict:
            continue
        value = _decimal(m.get("value"))
        if value is None:
            continue
        low, high = precision_range(value)
        currency = _text(m.get("currency"))
        _add_quantity(
            rows.quantities, code, value, low, high, ISO_4217 if currency else None, currency, None
        )


def _range(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for r in values:
        if r.__class__ is not dict:
            continue
        lo_q, hi_q = r.get("low"), r.get("high")
        lo = _decimal(lo_q.get("value")) if lo_q.__class__ is dict else None
        hi = _decimal(hi_q.get("value")) if hi_q.__class__ is dict else None
        if lo is None and hi is None:
            continue
        unit_src: dict[str, Any] = lo_q if lo is not None else hi_q  # type: ignore[assignment]
        low = precision_range(lo)[0] if lo is not None else Decimal("-Infinity")
        high = precision_range(hi)[1] if hi is not None else Decimal("Infinity")
        value = lo if lo is not None else hi
        assert value is not None
        _add_quantity(
            rows.quantities,
            code,
            value,
            low,
            high,
            _text(unit_src.get("system")),
            _text(unit_src.get("code")),
            _text(unit_src.get("unit")),
        )


def _quantity_number(
    code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo
) -> None:
    """A bare number under a quantity parameter: a quantity without a unit."""
    for v in values:
        value = _decimal(v)
        if value is not None:
            low, high = precision_range(value)
            _add_quantity(rows.quantities, code, value, low, high, None, None, None)


def _number(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        value = _decimal(v)
        if value is not None:
            low, high = precision_range(value)
            rows.numbers.append(NumberRow(code, float(value), float(low), float(high)))


# --- uri -------------------------------------------------------------------------------


def _uri(code: str, values: list[Any], rows: IndexRows, root: Any, tz: ZoneInfo) -> None:
    for v in values:
        if isinstance(v, str) and v:
            rows.uris.append(UriRow(code, v))


# --- tables ----------------------------------------------------------------------------

BUILDERS: dict[str, dict[str, Builder]] = {
    "token": {
        **dict.fromkeys(_TEXTUAL, _token_text),
        "boolean": _token_boolean,
        "Coding": _token_coding,
        "CodeableConcept": _token_concept,
        "Identifier": _token_identifier,
        "ContactPoint": _token_contact,
    },
    "string": {
        **dict.fromkeys(_TEXTUAL, _string_text),
        "HumanName": _string_name,
        "Address": _string_address,
        "CodeableConcept": _string_concept,
        "Coding": _string_concept,
        "Annotation": _string_field("text"),
        "ContactPoint": _string_field("value"),
        "Identifier": _string_field("value"),
        "Attachment": _string_field("title"),
    },
    "date": {
        **dict.fromkeys(_DATES, _date_value),
        "Period": _date_period,
        "Timing": _date_timing,
    },
    "reference": {
        "Reference": _reference,
        "canonical": _reference_canonical,
        "uri": _reference_canonical,
        "url": _reference_canonical,
        "Resource": _reference_resource,
    },
    "quantity": {
        **dict.fromkeys(_QUANTITIES, _quantity),
        "Money": _money,
        "Range": _range,
        **dict.fromkeys(_NUMBERS, _quantity_number),
    },
    "number": dict.fromkeys(_NUMBERS, _number),
    "uri": dict.fromkeys(("uri", "url", "canonical", "oid", "uuid", "string", "id"), _uri),
}


def builder_for(param_type: str, value_type: str) -> Builder | None:
    """The builder for values of FHIR type ``value_type`` under a ``param_type`` parameter."""
    return BUILDERS.get(param_type, {}).get(value_type)


def dynamic_builder(param_type: str) -> Builder:
    """Builder for choice ``value[x]`` holders (extensions): dispatch on the JSON key."""
    table = BUILDERS.get(param_type, {})

    def build(
        code: str, values: list[Any], rows: IndexRows, root: dict[str, Any], tz: ZoneInfo
    ) -> None:
        for holder in values:
            if holder.__class__ is not dict:
                continue
            for key, value in holder.items():
                if key.startswith("value") and len(key) > 5:
                    builder = table.get(fhir_type_name(key[5:]))
                    if builder is not None:
                        builder(code, value if isinstance(value, list) else [value], rows, root, tz)

    return build
