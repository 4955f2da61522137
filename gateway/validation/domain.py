"""French identifier checks: INS-NIR key, RPPS and idNat_PS Luhn keys, FINESS.

Applied to every ``Identifier`` whatever the profile, because a wrong key means a wrong
person or structure (DOMAIN.md §1): INS-NIR (and the test/demo INS systems, which use the
same NIR form) must carry a valid 2-digit key; RPPS numbers and the RPPS form of idNat_PS
(``8`` + RPPS) a valid Luhn key; FINESS numbers, bare or as idNat_Struct ``1`` + FINESS,
their Luhn key. Messages are in English, as every other message of the API (they once
were in French: integrators read them first, in logs and OperationOutcomes).

The arithmetic lives in :mod:`gateway.fhir.identifiers`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.fhir import identifiers as ids

_Check = Callable[[str], str | None]


def _nir(value: str) -> str | None:
    if ids.is_valid_nir(value):
        return None
    return (
        f"invalid INS-NIR: {value!r} is not a 15-character NIR followed by its right key "
        "(97 - NIR mod 97)"
    )


def _rpps(value: str) -> str | None:
    if ids.is_valid_rpps(value):
        return None
    return f"invalid RPPS: {value!r} must be 11 digits with a right Luhn key"


def _idnat_ps(value: str) -> str | None:
    if ids.is_valid_idnat_ps(value):
        return None
    return (
        f"invalid idNat_PS: {value!r} must be '8' + an RPPS (with a right Luhn key) "
        "or '0' + an ADELI number"
    )


def _finess(value: str) -> str | None:
    if ids.is_valid_finess(value):
        return None
    return f"invalid FINESS: {value!r} must be 9 characters with a right Luhn key"


def _idnat_struct(value: str) -> str | None:
    if value.startswith("1") and not ids.is_valid_finess(value[1:]):
        return f"invalid idNat_Struct: {value!r} is '1' + a FINESS whose Luhn key is wrong"
    return None


CHECKS: dict[str, _Check] = {
    ids.INS_NIR: _nir,
    ids.INS_NIR_TEST: _nir,
    ids.INS_NIR_DEMO: _nir,
    ids.RPPS: _rpps,
    ids.IDNAT_PS: _idnat_ps,
    ids.FINESS: _finess,
    ids.IDNAT_STRUCT: _idnat_struct,
}


def identifier_problem(identifier: dict[str, Any]) -> str | None:
    """Why ``identifier``'s value breaks the rule of its system (``None`` when fine)."""
    system = identifier.get("system")
    value = identifier.get("value")
    if not isinstance(system, str) or not isinstance(value, str):
        return None
    check = CHECKS.get(system)
    return check(value) if check is not None else None
