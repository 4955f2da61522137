"""Canonical UCUM units for the quantities clinicians exchange most.

A quantity in a known unit is also indexed in its canonical unit, and a search value in
a known unit is compared in that unit, so ``5 g`` finds ``5000 mg``
(https://hl7.org/fhir/R4/search.html#quantity: "the server may … canonicalise").
This is a table, not a UCUM engine: units outside it are matched on their code as
written. Canonical units: g (mass), m (length), L (volume), s (time), g/L and mol/L
(concentration), eq/L, Pa (pressure), K (temperature), /s (rates), g/m2.
Each entry maps a code to ``(canonical code, factor, offset)``: canonical = v·factor + offset.
"""

from __future__ import annotations

from decimal import Decimal

UCUM = "http://unitsofmeasure.org"

_D = Decimal
_TABLE: dict[str, tuple[str, Decimal, Decimal]] = {}

_MASS = {"g": "1", "kg": "1000", "mg": "0.001", "ug": "0.000001", "ng": "1e-9", "pg": "1e-12"}
_MASS |= {"[lb_av]": "453.59237", "[oz_av]": "28.349523125"}
_LENGTH = {"m": "1", "km": "1000", "cm": "0.01", "mm": "0.001", "um": "0.000001", "nm": "1e-9"}
_LENGTH |= {"[in_i]": "0.0254", "[ft_i]": "0.3048"}
_VOLUME = {"L": "1", "l": "1", "dL": "0.1", "cL": "0.01", "mL": "0.001", "uL": "0.000001"}
_VOLUME |= {"nL": "1e-9", "fL": "1e-15", "cm3": "0.001", "m3": "1000"}
_TIME = {"s": "1", "ms": "0.001", "min": "60", "h": "3600", "d": "86400", "wk": "604800"}
_TIME |= {"mo": "2629800", "a": "31557600"}
_MASS_CONC = {"g/L": "1", "g/dL": "10", "mg/dL": "0.01", "mg/L": "0.001", "ug/L": "0.000001"}
_MASS_CONC |= {"ug/dL": "0.00001", "ug/mL": "0.001", "ng/mL": "0.000001", "ng/dL": "1e-8"}
_MASS_CONC |= {"pg/mL": "1e-9", "mg/mL": "1", "kg/L": "1000"}
_MOL_CONC = {"mol/L": "1", "mmol/L": "0.001", "umol/L": "0.000001", "nmol/L": "1e-9"}
_MOL_CONC |= {"pmol/L": "1e-12"}
_EQ_CONC = {"eq/L": "1", "meq/L": "0.001", "mEq/L": "0.001"}
_PRESSURE = {"Pa": "1", "kPa": "1000", "mm[Hg]": "133.322387415", "cm[H2O]": "98.0665"}
_RATE = {"/s": "1", "/min": str(_D(1) / 60), "/h": str(_D(1) / 3600)}
_RATE |= {"{beats}/min": str(_D(1) / 60)}
_AREA_DENSITY = {"g/m2": "1", "kg/m2": "1000"}

for _canonical, _group in (
    ("g", _MASS),
    ("m", _LENGTH),
    ("L", _VOLUME),
    ("s", _TIME),
    ("g/L", _MASS_CONC),
    ("mol/L", _MOL_CONC),
    ("eq/L", _EQ_CONC),
    ("Pa", _PRESSURE),
    ("/s", _RATE),
    ("g/m2", _AREA_DENSITY),
):
    for _code, _factor in _group.items():
        _TABLE[_code] = (_canonical, _D(_factor), _D(0))

_TABLE["K"] = ("K", _D(1), _D(0))
_TABLE["Cel"] = ("K", _D(1), _D("273.15"))
_TABLE["[degF]"] = ("K", _D(5) / _D(9), _D("273.15") - _D(32) * _D(5) / _D(9))


def canonical_unit(code: str) -> tuple[str, Decimal, Decimal] | None:
    """``(canonical code, factor, offset)`` for a UCUM code in the table, else ``None``."""
    return _TABLE.get(code)


def to_canonical(value: Decimal, code: str) -> tuple[str, Decimal] | None:
    entry = _TABLE.get(code)
    if entry is None:
        return None
    canonical, factor, offset = entry
    return canonical, value * factor + offset


def known_units() -> frozenset[str]:
    return frozenset(_TABLE)
