"""``fixed[x]`` and ``pattern[x]``: exact values and partial templates.

A fixed value must be matched exactly: same members, same values, nothing more. A
pattern is a template: every member it has must be present with a matching value, and
each item of a pattern array must match some item of the instance's array (FHIR R4
``ElementDefinition.pattern[x]``). Booleans never equal numbers (JSON ``true`` is not 1).

See https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.fixed_x_
and #ElementDefinition.pattern_x_.
"""

from __future__ import annotations

import json
from typing import Any


def same_primitive(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def matches_fixed(value: Any, fixed: Any) -> bool:
    """Exact JSON equality (type-strict for booleans)."""
    if fixed.__class__ is str:  # the commonest (fixedUri, fixedCode): same_primitive, inlined
        return value.__class__ is not bool and bool(value == fixed)
    if isinstance(fixed, dict):
        return (
            isinstance(value, dict)
            and value.keys() == fixed.keys()
            and all(matches_fixed(value[k], v) for k, v in fixed.items())
        )
    if isinstance(fixed, list):
        return (
            isinstance(value, list)
            and len(value) == len(fixed)
            and all(matches_fixed(a, b) for a, b in zip(value, fixed, strict=True))
        )
    return same_primitive(value, fixed)


def matches_pattern(value: Any, pattern: Any) -> bool:
    """``value`` contains everything ``pattern`` has."""
    if pattern.__class__ is str:  # as in matches_fixed
        return value.__class__ is not bool and bool(value == pattern)
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and matches_pattern(value[k], v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return False
        return all(any(matches_pattern(item, p) for item in value) for p in pattern)
    return same_primitive(value, pattern)


def describe(value: Any) -> str:
    """A short rendering of a fixed or pattern value for messages."""
    text = repr(value) if not isinstance(value, dict | list) else _compact(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
