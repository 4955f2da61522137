"""Units: local unit labels to UCUM, and value conversion when the unit must change.

Labels (``mmHg``, ``°C``, ``bpm``, ``lbs``…) are translated to UCUM codes
(https://ucum.org) through the ``UnitLabelToUcum`` ConceptMap. When an element needs a
given unit (a FR Core vital-sign profile binds body weight to ``kg``, temperature to
``Cel``…), the value is converted.

**Original value.** A converted Quantity keeps what the source sent in the extension
:data:`ORIGINAL_QUANTITY` on the Quantity itself (``valueQuantity.extension``), holding
the original value and unit as a Quantity. It is machine-readable, travels with the value
it qualifies, and is ignored by consumers that do not know it (extensions on a
Quantity are always allowed: https://hl7.org/fhir/R4/extensibility.html). The
conversion is also reported as an assumption for the Provenance.

Conversion factors are physical constants, not configuration, so they live here:
1 [lb_av] = 0.45359237 kg exactly; Cel = ([degF] - 32) × 5/9; 1 [in_i] = 2.54 cm exactly.
Results keep one more significant digit than the input had.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.normalise.errors import NormalisationError
from gateway.normalise.numbers import json_number, round_significant, significant_digits
from gateway.normalise.terminology import UNITS, Terminology

UCUM = "http://unitsofmeasure.org"
ORIGINAL_QUANTITY = "https://dmp-gateway.fr/fhir/StructureDefinition/original-quantity"

_LINEAR: dict[tuple[str, str], Decimal] = {
    ("[lb_av]", "kg"): Decimal("0.45359237"),
    ("g", "kg"): Decimal("0.001"),
    ("cm[Hg]", "mm[Hg]"): Decimal(10),
    ("[in_i]", "cm"): Decimal("2.54"),
    ("m", "cm"): Decimal(100),
    ("mm", "cm"): Decimal("0.1"),
    ("g/L", "mg/dL"): Decimal(100),
    ("g/dL", "mg/dL"): Decimal(1000),
    ("mg/L", "mg/dL"): Decimal("0.1"),
    ("/s", "/min"): Decimal(60),
}
_KNOWN_UCUM = frozenset({code for pair in _LINEAR for code in pair} | {"Cel", "[degF]", "K", "%"})


@dataclass(frozen=True, slots=True)
class Quantity:
    """A FHIR Quantity in UCUM, with what the source sent when it was converted."""

    value: Decimal
    code: str
    unit: str
    original_value: Decimal | None = None
    original_code: str | None = None
    original_unit: str | None = None

    @property
    def converted(self) -> bool:
        return self.original_value is not None

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.original_value is not None:
            original: dict[str, Any] = {"value": json_number(self.original_value)}
            if self.original_unit:
                original["unit"] = self.original_unit
            if self.original_code:
                original.update(system=UCUM, code=self.original_code)
            out["extension"] = [{"url": ORIGINAL_QUANTITY, "valueQuantity": original}]
        out.update(value=json_number(self.value), unit=self.unit, system=UCUM, code=self.code)
        return out


def ucum_code(label: str, terminology: Terminology) -> str | None:
    """The UCUM code for a unit label, or ``None`` when the label is unknown."""
    text = label.strip()
    if not text:
        return None
    hit = terminology.translate(UNITS, text)
    if hit is not None:
        return hit.code
    return text if text in _KNOWN_UCUM else None


def convert(value: Decimal, source: str, target: str) -> Decimal:
    """Convert ``value`` from UCUM ``source`` to UCUM ``target``; exact where possible."""
    if source == target:
        return value
    digits = significant_digits(value) + 1
    factor = _LINEAR.get((source, target))
    if factor is not None:
        return round_significant(value * factor, digits)
    inverse = _LINEAR.get((target, source))
    if inverse is not None:
        return round_significant(value / inverse, digits)
    if (source, target) == ("[degF]", "Cel"):
        return round_significant((value - 32) * 5 / 9, digits)
    if (source, target) == ("K", "Cel"):
        return value - Decimal("273.15")
    raise NormalisationError(f"cannot convert {source} to {target}", kind="unit")


def normalise_quantity(
    value: Decimal,
    unit_label: str | None,
    terminology: Terminology,
    *,
    target: str | None = None,
    accepted: frozenset[str] = frozenset(),
    default_unit: str | None = None,
) -> tuple[Quantity, str | None]:
    """A value and its unit label as a UCUM Quantity, converted to ``target`` when needed.

    - ``accepted``: UCUM codes kept as they are (no conversion);
    - ``default_unit``: the UCUM code assumed when no unit label is given.

    Returns the Quantity and the assumption made (unit assumed or converted), if any.
    Raises :class:`NormalisationError` (kind ``unit``) for an unknown label, or one
    that cannot be converted to ``target``.
    """
    label = (unit_label or "").strip()
    assumption: str | None = None
    if label:
        code = ucum_code(label, terminology)
        if code is None:
            raise NormalisationError(f"unknown unit {label!r}", kind="unit")
    elif default_unit:
        code = default_unit
        label = default_unit
        assumption = f"no unit given: {default_unit} assumed"
    else:
        raise NormalisationError("no unit given", kind="unit")
    if target is None or code == target or code in accepted:
        return Quantity(value, code, _display(label, code)), assumption
    converted = convert(value, code, target)
    note = f"{value} {code} converted to {converted} {target} (original kept)"
    return (
        Quantity(converted, target, target, value, code, label),
        f"{assumption}; {note}" if assumption else note,
    )


def _display(label: str, code: str) -> str:
    # The human unit: keep the source's label when it is printable, else the UCUM code.
    return label if label.isprintable() and len(label) <= 20 else code
