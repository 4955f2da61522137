"""Quantities for doses and dispensed amounts, shared by the HL7 and CSV parsers.

A dose unit that maps to UCUM gives a full Quantity (system + code); one that does not
is kept as its text only (``unit``), with a warning, because FHIR forbids a ``code``
without a ``system`` (qty-3) and a wrong code would be worse than none.
"""

from __future__ import annotations

from typing import Any

from gateway.ingest.assembly import Assembly
from gateway.ingest.issues import Location, warning
from gateway.normalise.errors import NormalisationError
from gateway.normalise.numbers import json_number, parse_decimal
from gateway.normalise.units import UCUM, ucum_code


def dose_quantity(
    value_text: str,
    unit_labels: tuple[str, ...],
    asm: Assembly,
    location: Location | None,
    expression: str,
) -> dict[str, Any] | None:
    """A Quantity from a number and candidate unit labels (code first, then text)."""
    if not value_text.strip():
        return None
    try:
        value = parse_decimal(value_text)
    except NormalisationError as exc:
        asm.refuse(exc, location, expression)
        return None
    out: dict[str, Any] = {"value": json_number(value)}
    labels = [u for u in unit_labels if u and u.strip()]
    for label in labels:
        code = ucum_code(label, asm.terminology)
        if code is not None:
            out.update(unit=labels[-1] if len(labels) > 1 else label, system=UCUM, code=code)
            return out
    if labels:
        out["unit"] = labels[-1]
        asm.report(
            warning(
                f"unit {labels[-1]!r} is not a known UCUM unit: kept as text",
                location,
                expression=expression,
            )
        )
    return out
