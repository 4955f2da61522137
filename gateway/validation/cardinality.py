"""Cardinality: how many values an object's members hold, against an element's min..max.

A value counts whether it is given itself or only by its extension part (``_name``, FHIR
R4 §2.6.2.2). A count outside the base definition's own min..max is malformed R4, not
only a profile violation.

See https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.min and
https://hl7.org/fhir/R4/profiling.html#cardinality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.validation import report as rc
from gateway.validation.report import Report

if TYPE_CHECKING:
    from gateway.validation.elements import ElementRule, Keys


def count(obj: dict[str, Any], keys: Keys) -> int:
    """How many values the members ``keys`` hold (a value, or only its extension part)."""
    found = 0
    for key, ext_key in keys:
        value = obj.get(key)
        if value is None:
            value = obj.get(ext_key)
        if value is not None:
            found += len(value) if value.__class__ is list else 1
    return found


def report_cardinality(rule: ElementRule, found: int, path: str, out: Report) -> None:
    """``found`` values of ``rule`` in the object at ``path``: fewer than min or more than max."""
    malformed = found < rule.base_min or (rule.base_max is not None and found > rule.base_max)
    if found < rule.min:
        out.error(
            "required",
            rc.CARDINALITY,
            f"{rule.path}: minimum required = {rule.min}, but only found {found}",
            f"{path}.{rule.name}",
            malformed,
        )
    else:
        out.error(
            "structure",
            rc.CARDINALITY,
            f"{rule.path}: maximum allowed = {rule.max}, but found {found}",
            f"{path}.{rule.name}",
            malformed,
        )
