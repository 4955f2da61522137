"""Search values, one parser per parameter type (https://hl7.org/fhir/R4/search.html).

Values arrive URL-decoded. ``,`` separates alternatives (OR), ``|`` separates the parts
of tokens and quantities, and ``\\,``, ``\\|``, ``\\$`` and ``\\\\`` escape them
(§3.1.1.1.8 "Escaping search parameters"). Parsers raise :class:`InvalidValue` for a
malformed value, which the caller turns into a 400 naming the parameter in both
handling modes. An unknown prefix (``xx2024``) is malformed, not merely unsupported: R4
defines the nine prefixes and all of them are served, and a lenient search that dropped
the value would widen a clinical filter to every resource.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from gateway.search.dates import InvalidDate, date_range
from gateway.search.normalise import normalise
from gateway.search.numbers import precision_range
from gateway.search.query import (
    PREFIXES,
    CanonicalQuantity,
    DateValue,
    MissingValue,
    NumberValue,
    OfTypeValue,
    Prefix,
    QuantityValue,
    ReferenceValue,
    StringValue,
    TextValue,
    TokenValue,
    UriValue,
)
from gateway.search.references import parse_canonical
from gateway.search.ucum import UCUM, canonical_unit


class InvalidValue(ValueError):
    """The value does not follow the syntax of its parameter type."""


_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d{1,3})?$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TYPED_ID = re.compile(
    r"^([A-Za-z]{1,64})/([A-Za-z0-9\-.]{1,64})(?:/_history/([A-Za-z0-9\-.]{1,64}))?$"
)
_ESCAPES = {",": ",", "|": "|", "$": "$", "\\": "\\"}


def split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is not escaped; escapes are kept for :func:`unescape`."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """Resolve ``\\,``, ``\\|``, ``\\$`` and ``\\\\``; other backslashes stay literal."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(text[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def split_prefix(text: str) -> tuple[Prefix, str]:
    """The comparison prefix of an ordered value (default ``eq``) and the rest."""
    head = text[:2]
    # Two letters then the start of a number or date: a prefix, known or not.
    if len(text) > 2 and head.isalpha() and (text[2].isdigit() or text[2] in "+-."):
        if head in PREFIXES:
            return head, text[2:]  # type: ignore[return-value]
        raise InvalidValue(
            f"unknown prefix '{head}' (a prefix is one of {', '.join(sorted(PREFIXES))})"
        )
    return "eq", text


def parse_date(text: str, tz: ZoneInfo) -> DateValue:
    prefix, rest = split_prefix(unescape(text))
    if " " in rest:
        # A '+' of a UTC offset decoded as a space by a form-encoding client.
        rest = rest.replace(" ", "+")
    try:
        low, high = date_range(rest, tz)
    except (InvalidDate, ValueError, OverflowError) as exc:
        raise InvalidValue(
            f"'{text}' is not a valid date (YYYY[-MM[-DD[Thh:mm[:ss[.f]][zone]]]])"
        ) from exc
    return DateValue(prefix, low, high, text)


def parse_decimal(text: str) -> Decimal:
    if not _NUMBER.match(text):
        raise InvalidValue(f"'{text}' is not a valid number")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards
        raise InvalidValue(f"'{text}' is not a valid number") from exc


def parse_number(text: str) -> NumberValue:
    prefix, rest = split_prefix(unescape(text))
    value = parse_decimal(rest)
    low, high = precision_range(value)
    return NumberValue(prefix, value, low, high, text)


def parse_quantity(text: str) -> QuantityValue:
    parts = split_unescaped(text, "|")
    if len(parts) not in (1, 3):
        raise InvalidValue(f"'{text}' is not a quantity (number|system|code)")
    prefix, rest = split_prefix(unescape(parts[0]))
    value = parse_decimal(rest)
    low, high = precision_range(value)
    system = unescape(parts[1]) or None if len(parts) == 3 else None
    code = unescape(parts[2]) or None if len(parts) == 3 else None
    canonical = None
    if code is not None and system in (None, UCUM):
        entry = canonical_unit(code)
        if entry is not None:
            c_code, factor, offset = entry
            canonical = CanonicalQuantity(
                c_code, value * factor + offset, low * factor + offset, high * factor + offset
            )
    return QuantityValue(prefix, value, low, high, system, code, canonical, text)


def parse_token(text: str) -> TokenValue:
    parts = split_unescaped(text, "|")
    if len(parts) == 1:
        return TokenValue(None, unescape(parts[0]))
    if len(parts) != 2:
        raise InvalidValue(f"'{text}' has more than one unescaped '|' (system|code)")
    system, code = unescape(parts[0]), unescape(parts[1])
    if not system and not code:
        raise InvalidValue(f"'{text}' has neither system nor code")
    return TokenValue(system, code or None)


def parse_of_type(text: str) -> OfTypeValue:
    parts = split_unescaped(text, "|")
    if len(parts) != 3 or not all(parts):
        raise InvalidValue(f"'{text}' is not an identifier type and value (system|code|value)")
    return OfTypeValue(unescape(parts[0]), unescape(parts[1]), unescape(parts[2]))


def parse_text(text: str) -> TextValue:
    plain = unescape(text)
    return TextValue(plain, normalise(plain))


def parse_string(text: str) -> StringValue:
    plain = unescape(text)
    return StringValue(plain, normalise(plain))


def parse_uri(text: str) -> UriValue:
    return UriValue(unescape(text))


def parse_missing(text: str) -> MissingValue:
    if text not in ("true", "false"):
        raise InvalidValue(f"':missing' takes true or false, not '{text}'")
    return MissingValue(text == "true")


def parse_reference(
    text: str,
    *,
    targets: tuple[str, ...],
    type_modifier: str | None,
    resource_types: frozenset[str],
) -> ReferenceValue:
    """``id``, ``Type/id``, an absolute URL, or a canonical ``url|version``.

    ``targets`` are the parameter's target types (empty: any type).
    """
    plain = unescape(text)
    if plain.startswith(("http://", "https://", "urn:")):
        p = parse_canonical(plain)
        if type_modifier is not None and p.type not in (None, type_modifier):
            raise InvalidValue(f"'{text}' is not a {type_modifier} reference")
        return ReferenceValue(p.type, p.id, p.url, p.version)
    m = _TYPED_ID.match(plain)
    if m:
        rtype, rid = m.group(1), m.group(2)
        if rtype not in resource_types:
            raise InvalidValue(f"'{rtype}' is not a resource type")
        if type_modifier is not None and rtype != type_modifier:
            raise InvalidValue(f"'{text}' is not a {type_modifier} reference")
        if targets and rtype not in targets:
            raise InvalidValue(f"{rtype} is not a target of this parameter ({', '.join(targets)})")
        return ReferenceValue(rtype, rid)
    if _ID.match(plain):
        if type_modifier is not None:
            return ReferenceValue(type_modifier, plain)
        return ReferenceValue(targets[0] if len(targets) == 1 else None, plain)
    raise InvalidValue(f"'{text}' is not a reference (id, Type/id or an absolute URL)")
