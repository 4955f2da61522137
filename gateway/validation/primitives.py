"""JSON primitive values: the JSON type each FHIR primitive needs, and its lexical rule.

FHIR JSON (R4 §2.6.2) carries ``boolean`` as JSON true/false, ``integer``, ``positiveInt``,
``unsignedInt`` and ``decimal`` as JSON numbers, everything else as a non-empty JSON
string. ``"active": "true"`` is therefore invalid even though many parsers coerce it.
Strings are checked against the regular expression each primitive's StructureDefinition
publishes (extension ``http://hl7.org/fhir/StructureDefinition/regex`` on ``value``), dates
against the calendar, integers against their 32-bit range.

See https://hl7.org/fhir/R4/json.html#primitive and https://hl7.org/fhir/R4/datatypes.html.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway.validation import report as rc
from gateway.validation.report import Report

if TYPE_CHECKING:
    from gateway.validation.elements import TypeRef

REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
_INT32 = (-(2**31), 2**31 - 1)
_NUMBER_TYPES = {
    "integer": "an integer",
    "positiveInt": "a positive integer",
    "unsignedInt": "a non-negative integer",
}
_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
_MAX_STRING = 1024 * 1024

Problem = tuple[str, str]  # (FHIR issue code: structure for a JSON type, value otherwise; why)
Checker = Callable[[Any], Problem | None]


def report_invalid(tref: TypeRef, problem: Problem, here: str, out: Report) -> None:
    """What a checker found wrong with a value of type ``tref`` at ``here``."""
    message = f"Invalid {tref.code}: {problem[1]}"
    out.error(problem[0], rc.VALUE, message, here, True)


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number with a fraction" if isinstance(value, Decimal) else "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else type(value).__name__


def _boolean(value: Any) -> Problem | None:
    if isinstance(value, bool):
        return None
    return "structure", f"must be a JSON boolean, not {json_kind(value)}"


def _integer(kind: str, low: int) -> Checker:
    def check(value: Any) -> Problem | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return (
                "structure",
                f"must be {_NUMBER_TYPES[kind]} (a JSON number), not {json_kind(value)}",
            )
        if not low <= value <= _INT32[1]:
            return "value", f"{value} is out of range for {kind}"
        return None

    return check


def _decimal(value: Any) -> Problem | None:
    # The gateway's JSON parser gives decimals as Decimal to keep their precision.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return "structure", f"must be a JSON number, not {json_kind(value)}"
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        return "value", "must be a finite number"
    return None


def _calendar_ok(value: str) -> bool:
    if len(value) < 10:
        return True
    try:
        date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


#: Short strings already found valid, per type: codes, systems and dates repeat a lot, and a
#: set lookup is several times cheaper than the regular expression. Bounded; cleared when full.
_KNOWN_LIMIT = 8192
_SHORT = 128


def _string(kind: str, pattern: re.Pattern[str] | None) -> Checker:
    is_date = kind in _DATE_TYPES
    known: set[str] = set()
    # FHIR caps strings at 1 MB (https://hl7.org/fhir/R4/datatypes.html#string), not
    # base64Binary: a document's content is bounded by the body limit alone.
    max_length = None if kind == "base64Binary" else _MAX_STRING
    if kind == "base64Binary":
        pattern = None  # the R4 regex backtracks for seconds on megabytes: _base64 instead

    def check(value: Any) -> Problem | None:
        if value.__class__ is str and value in known:
            return None
        if not isinstance(value, str):
            return "structure", f"must be a JSON string, not {json_kind(value)}"
        if not value:
            return "value", "must not be an empty string"
        if max_length is not None and len(value) > max_length:
            return "value", "is longer than 1 MB"
        if pattern is not None and pattern.fullmatch(value) is None:
            return "value", f"{_shorten(value)!r} is not a valid {kind}"
        if kind == "base64Binary" and not _base64(value):
            return "value", f"{_shorten(value)!r} is not a valid {kind}"
        if is_date and not _calendar_ok(value):
            return "value", f"{value!r} is not a calendar date"
        if len(value) <= _SHORT:
            if len(known) >= _KNOWN_LIMIT:
                known.clear()
            known.add(value)
        return None

    return check


def _shorten(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."


def build_checkers(definitions: Iterable[dict[str, Any]]) -> dict[str, Checker]:
    """Primitive type code → checker, from the primitive StructureDefinitions given."""
    checkers: dict[str, Checker] = {}
    for sd in definitions:
        if sd.get("kind") != "primitive-type":
            continue
        kind = str(sd.get("type") or sd.get("id"))
        checkers[kind] = _checker(kind, _regex_of(sd))
    return checkers


def _checker(kind: str, regex: str | None) -> Checker:
    if kind == "boolean":
        return _boolean
    if kind == "integer":
        return _integer(kind, _INT32[0])
    if kind == "positiveInt":
        return _integer(kind, 1)
    if kind == "unsignedInt":
        return _integer(kind, 0)
    if kind == "decimal":
        return _decimal
    # FHIR's regexes follow XML Schema, where \s is ASCII whitespace only: without
    # re.ASCII, Python's \S would refuse a no-break space, common in French text.
    pattern = re.compile(regex, re.ASCII) if regex else None
    return _string(kind, pattern)


_BASE64_CHARS = re.compile(r"[0-9a-zA-Z+/=\s]+", re.ASCII)


def _base64(value: str) -> bool:
    r"""The R4 regex ``(\s*([0-9a-zA-Z\+/=]){4}\s*)+`` in linear time: its alphabet and
    ASCII whitespace only, each run between whitespace made of whole groups of four."""
    return (
        _BASE64_CHARS.fullmatch(value) is not None
        and all(len(run) % 4 == 0 for run in value.split())
        and not value.isspace()
    )


def _regex_of(sd: dict[str, Any]) -> str | None:
    for element in (sd.get("snapshot") or {}).get("element") or ():
        if str(element.get("path", "")).endswith(".value"):
            for t in element.get("type") or ():
                for ext in t.get("extension") or ():
                    if ext.get("url") == REGEX_EXTENSION and isinstance(
                        ext.get("valueString"), str
                    ):
                        return str(ext["valueString"])
    return None
