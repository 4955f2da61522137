from __future__ import annotations

import pytest

from gateway.fhir.identifiers import (
    is_valid_finess,
    is_valid_idnat_ps,
    is_valid_nir,
    is_valid_rpps,
    luhn_ok,
    nir_key,
)


def _nir(first13: str) -> str:
    return f"{first13}{nir_key(first13):02d}"


def test_nir_key_by_definition() -> None:
    # key = 97 - (number mod 97), computed independently here.
    assert nir_key("1840675123456") == 97 - (1840675123456 % 97)
    assert is_valid_nir(_nir("2770763220829"))


def test_corsica_departments_use_19_and_18_for_the_key() -> None:
    # sex 1, born 84-02, department 2A / 2B, commune 123, order 456
    assert nir_key("184022A123456") == 97 - (1840219123456 % 97)
    assert nir_key("184022B123456") == 97 - (1840218123456 % 97)
    assert is_valid_nir(_nir("184022A123456"))


@pytest.mark.parametrize("bad", ["", "123", "2770763220829", "x" * 15, "277076322082999"])
def test_bad_nirs(bad: str) -> None:
    assert not is_valid_nir(bad)


def test_luhn_family() -> None:
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")
    assert is_valid_rpps("10000000007") == luhn_ok("10000000007")
    assert not is_valid_rpps("1000000000")
    assert is_valid_idnat_ps("8" + "79927398713")
    assert not is_valid_idnat_ps("8" + "79927398710")
    assert is_valid_idnat_ps("0123456789")
    assert is_valid_finess("2A0000001")
    assert not is_valid_finess("12345678")
