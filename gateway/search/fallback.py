"""The ``fhirpathpy`` fallback for expressions the compiler does not handle.

Its results are plain JSON values without their FHIR type, so :func:`infer_type`
guesses the type from the value's shape and the parameter's type. An evaluation error
yields no value rather than an exception: extraction must never fail on a resource
that passed validation, and a missing index row is reported by the registry tests.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

_R4 = models["r4"]


class FallbackGetter:
    """Evaluate a full FHIRPath expression with ``fhirpathpy``."""

    __slots__ = ("_fn", "expression")

    type = "?"

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._fn: Callable[[Any, Any], list[Any]] = fhirpathpy.compile(expression, _R4)

    def values(self, resource: dict[str, Any]) -> list[Any]:
        try:
            out = self._fn(resource, {})
        except Exception:
            return []
        return list(out) if isinstance(out, list) else []


_SHAPES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"reference"}), "Reference"),
    (frozenset({"coding"}), "CodeableConcept"),
    (frozenset({"family"}), "HumanName"),
    (frozenset({"given"}), "HumanName"),
    (frozenset({"line"}), "Address"),
    (frozenset({"city"}), "Address"),
    (frozenset({"postalCode"}), "Address"),
    (frozenset({"event"}), "Timing"),
    (frozenset({"repeat"}), "Timing"),
    (frozenset({"start"}), "Period"),
    (frozenset({"end"}), "Period"),
    (frozenset({"low"}), "Range"),
    (frozenset({"high"}), "Range"),
    (frozenset({"currency"}), "Money"),
    (frozenset({"resourceType"}), "Resource"),
)


def infer_type(value: Any, param_type: str) -> str | None:
    """A FHIR type for an untyped value, given the parameter's type; ``None`` if unknown."""
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal | float):
        return "decimal"
    if isinstance(value, str):
        return {"date": "dateTime", "reference": "canonical", "uri": "uri"}.get(
            param_type, "string"
        )
    if not isinstance(value, dict):
        return None
    keys = value.keys()
    for needed, type_name in _SHAPES:
        if needed <= keys:
            return type_name
    if "identifier" in keys and param_type == "reference":
        return "Reference"
    if "value" in keys and ("unit" in keys or ("code" in keys and param_type == "quantity")):
        return "Quantity"
    if "value" in keys and param_type == "quantity":
        return "Quantity"
    if "value" in keys and ("system" in keys or "type" in keys):
        return "ContactPoint" if value.get("system") in _CONTACT_SYSTEMS else "Identifier"
    if "code" in keys or "system" in keys:
        return "Coding"
    if "text" in keys:
        return "CodeableConcept"
    if "display" in keys and param_type == "reference":
        return "Reference"
    return None


_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
