"""French decimals, unit labels to UCUM, conversions that keep the original value."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.normalise.errors import NormalisationError
from gateway.normalise.numbers import json_number, parse_decimal
from gateway.normalise.terminology import Terminology
from gateway.normalise.units import ORIGINAL_QUANTITY, UCUM, convert, normalise_quantity, ucum_code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("37,5", "37.5"),
        ("37.0", "37.0"),
        (" 120 ", "120"),
        ("1 234,5", "1234.5"),
        ("1\u00a0234,5", "1234.5"),
        ("1.234,5", "1234.5"),
        ("1,234.5", "1234.5"),
        ("-0,5", "-0.5"),
        (",5", "0.5"),
    ],
)
def test_parse_decimal(text: str, expected: str) -> None:
    value = parse_decimal(text)
    assert value == Decimal(expected)
    assert str(value) == expected


@pytest.mark.parametrize("bad", ["", "abc", "1,2,3", "12/8", "NaN", "inf", "1e999", "--1"])
def test_parse_decimal_refuses(bad: str) -> None:
    with pytest.raises(NormalisationError):
        parse_decimal(bad)


def test_json_number_keeps_integers_and_decimals() -> None:
    assert json_number(Decimal("120")) == 120
    assert isinstance(json_number(Decimal("120")), int)
    assert json_number(Decimal("37.0")) == 37.0
    assert isinstance(json_number(Decimal("37.0")), float)


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("mmHg", "mm[Hg]"),
        ("mm Hg", "mm[Hg]"),
        ("°C", "Cel"),
        ("bpm", "/min"),
        ("/mn", "/min"),
        ("beats/min", "/min"),
        ("Kg", "kg"),
        ("lbs", "[lb_av]"),
        ("%", "%"),
        ("g/dl", "g/dL"),
        ("mmol/l", "mmol/L"),
        ("G/L", "10*9/L"),
        ("g/L", "g/L"),
        ("µg", "ug"),
        ("UI", "[iU]"),
        ("cp", "{tbl}"),
    ],
)
def test_unit_labels_to_ucum(terminology: Terminology, label: str, code: str) -> None:
    assert ucum_code(label, terminology) == code


def test_unknown_unit_label(terminology: Terminology) -> None:
    assert ucum_code("furlongs/fortnight", terminology) is None
    assert ucum_code("min", terminology) is None  # a duration is not a rate


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        ("154", "[lb_av]", "kg", "69.85"),
        ("98.6", "[degF]", "Cel", "37.00"),
        ("13", "cm[Hg]", "mm[Hg]", "130"),
        ("1.05", "g/L", "mg/dL", "105.00"),
        ("70", "[in_i]", "cm", "178"),
        ("70.0", "[in_i]", "cm", "177.80"),
        ("72500", "g", "kg", "72.500"),
        ("310.15", "K", "Cel", "37.00"),
        ("120", "mm[Hg]", "mm[Hg]", "120"),
    ],
)
def test_convert(value: str, source: str, target: str, expected: str) -> None:
    assert convert(Decimal(value), source, target) == Decimal(expected)


def test_convert_refuses_incompatible_units() -> None:
    with pytest.raises(NormalisationError) as err:
        convert(Decimal(1), "kg", "Cel")
    assert err.value.kind == "unit"


def test_normalise_quantity_converts_and_keeps_the_original(terminology: Terminology) -> None:
    quantity, assumption = normalise_quantity(Decimal("154"), "lbs", terminology, target="kg")
    assert quantity.to_fhir() == {
        "extension": [
            {
                "url": ORIGINAL_QUANTITY,
                "valueQuantity": {"value": 154, "unit": "lbs", "system": UCUM, "code": "[lb_av]"},
            }
        ],
        "value": 69.85,
        "unit": "kg",
        "system": UCUM,
        "code": "kg",
    }
    assert assumption is not None
    assert "converted" in assumption


def test_normalise_quantity_without_conversion(terminology: Terminology) -> None:
    quantity, assumption = normalise_quantity(Decimal("120"), "mmHg", terminology, target="mm[Hg]")
    assert quantity.to_fhir() == {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
    assert assumption is None


def test_normalise_quantity_default_unit(terminology: Terminology) -> None:
    quantity, assumption = normalise_quantity(
        Decimal("72,5".replace(",", ".")), None, terminology, target="kg", default_unit="kg"
    )
    assert quantity.code == "kg"
    assert assumption == "no unit given: kg assumed"
    with pytest.raises(NormalisationError):
        normalise_quantity(Decimal(1), None, terminology, target="kg")
    with pytest.raises(NormalisationError):
        normalise_quantity(Decimal(1), "parsecs", terminology)


@given(st.text(max_size=30))
def test_parse_decimal_never_crashes(text: str) -> None:
    with contextlib.suppress(NormalisationError):
        parse_decimal(text)
