"""French identifier systems and their check keys (see DOMAIN.md §1).

Pure functions, shared by validation, normalisation and policy.

- INS-NIR: 13 characters + 2-digit key, key = 97 - (number mod 97); Corsica ``2A``/``2B``
  in positions 6-7 count as 19/18 for the key computation.
- RPPS: 11 digits, Luhn key (the last digit).
- FINESS: 9 characters; the last digit is a Luhn key over the first 8 (ANS, "Numéro FINESS").
- idNat_PS: ``8`` + RPPS, or ``0`` + ADELI (9 characters).
- idNat_Struct: ``1`` + FINESS, ``3`` + SIRET, ``4`` + RPPS-rang…
"""

from __future__ import annotations

import re

INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"
INS_NIA = "urn:oid:1.2.250.1.213.1.4.9"
INS_NIR_TEST = "urn:oid:1.2.250.1.213.1.4.10"
INS_NIR_DEMO = "urn:oid:1.2.250.1.213.1.4.11"
INS_SYSTEMS = frozenset({INS_NIR, INS_NIA, INS_NIR_TEST, INS_NIR_DEMO})
IDNAT_PS = "urn:oid:1.2.250.1.71.4.2.1"
IDNAT_STRUCT = "urn:oid:1.2.250.1.71.4.2.2"
RPPS = "https://rpps.esante.gouv.fr"
FINESS = "https://finess.esante.gouv.fr"

_NIR_RE = re.compile(r"^[1-8][0-9]{4}(2A|2B|[0-9]{2})[0-9]{8}$")
_CORSICA = {"2A": "19", "2B": "18"}


def nir_key(first13: str) -> int:
    """The 2-digit key of a NIR from its first 13 characters (Corsica-aware)."""
    department = first13[5:7].upper()
    if department in _CORSICA:
        first13 = first13[:5] + _CORSICA[department] + first13[7:]
    return 97 - (int(first13) % 97)


def is_valid_nir(value: str) -> bool:
    """True when ``value`` is a 15-character NIR whose key matches its first 13 characters."""
    v = value.strip().upper()
    if len(v) != 15 or not _NIR_RE.match(v):
        return False
    return int(v[13:]) == nir_key(v[:13])


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check, as used by RPPS and FINESS numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def is_valid_rpps(value: str) -> bool:
    return len(value) == 11 and luhn_ok(value)


def is_valid_finess(value: str) -> bool:
    """FINESS: 9 characters; Corsican numbers start with 2A/2B and are not Luhn-checked."""
    if len(value) != 9:
        return False
    if value[:2].upper() in ("2A", "2B"):
        return value[2:].isdigit()
    return luhn_ok(value)


def is_valid_idnat_ps(value: str) -> bool:
    """idNat_PS: '8' + RPPS (Luhn-checked) or '0' + ADELI (9 characters)."""
    if value.startswith("8"):
        return is_valid_rpps(value[1:])
    if value.startswith("0"):
        return len(value) == 10 and value[1:].isalnum()
    return False


def idnat_ps_from_rpps(rpps: str) -> str:
    return "8" + rpps


def idnat_struct_from_finess(finess: str) -> str:
    return "1" + finess
