"""Medication codes to the French standard systems: CIP13, UCD, CIS, ATC.

Systems, as the ANS guides write them:

- CIP13 (presentation, what a pharmacy dispenses): ``urn:oid:1.2.250.1.213.2.3.2``
  (CI-SIS; FR document IG examples);
- UCD (common dispensing unit, hospital and EHPAD): ``http://data.esante.gouv.fr/ansm/medicament/UCD``
  (ANS e-prescription IG, ``corpora/fr-eprescription``);
- CIS (specialty): ``urn:oid:1.2.250.1.213.2.3.1``;
- ATC (WHO classification): ``http://www.whocc.no/atc``.

The source names its coding system (HL7 CWE-3, or a CSV column); names are mapped by the
``MedicationCodeSystemToUri`` and ``V2CodingSystemToUri`` ConceptMaps. 13-digit CIP and
UCD codes are EAN-13 numbers (CIP13 = ``34009`` + CIP7 + key, UCD13 = ``34008`` + UCD7 +
key): their key is checked and 7-digit codes are widened to 13 digits. When the system is
not named, a code whose shape is unambiguous (a keyed ``34009…``/``34008…`` EAN-13, an ATC
code) is recognised and the guess is returned as an assumption; anything else is kept
as the source's local code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.normalise.errors import NormalisationError
from gateway.normalise.source import SourceConfig
from gateway.normalise.terminology import (
    MEDICATION_SYSTEMS,
    V2_CODING_SYSTEMS,
    Coding,
    Terminology,
)

CIP13 = "urn:oid:1.2.250.1.213.2.3.2"
UCD = "http://data.esante.gouv.fr/ansm/medicament/UCD"
CIS = "urn:oid:1.2.250.1.213.2.3.1"
ATC = "http://www.whocc.no/atc"
STANDARD_SYSTEMS = frozenset({CIP13, UCD, CIS, ATC})

_ATC = re.compile(r"^[A-Z]\d{2}(?:[A-Z](?:[A-Z](?:\d{2})?)?)?$")
_PREFIX = {CIP13: "34009", UCD: "34008"}


@dataclass(frozen=True, slots=True)
class MedicationCode:
    """A normalised medication code; ``standard`` is False for a source-local code."""

    coding: Coding
    standard: bool
    assumption: str | None = None


def ean13_key(first12: str) -> int:
    """The EAN-13 check digit of 12 digits (GS1 General Specifications §7.9)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def _ean13_ok(code: str) -> bool:
    return len(code) == 13 and code.isdigit() and int(code[12]) == ean13_key(code[:12])


def _keyed(system: str, code: str, display: str | None) -> MedicationCode:
    name = "CIP13" if system == CIP13 else "UCD13"
    if len(code) == 7 and code.isdigit():
        widened = _PREFIX[system] + code
        widened += str(ean13_key(widened))
        return MedicationCode(
            Coding(system, widened, display),
            standard=True,
            assumption=f"7-digit code {code} widened to {name} {widened}",
        )
    if not _ean13_ok(code):
        raise NormalisationError(
            f"{code!r} is not a valid {name} code (13 digits, EAN key)", "code"
        )
    return MedicationCode(Coding(system, code, display), standard=True)


def system_for(name: str, terminology: Terminology) -> str | None:
    """The FHIR system URI for a coding-system name (``CIP``, ``UCD``, ``WC``, ``LN``…)."""
    text = name.strip()
    if not text:
        return None
    if text.startswith(("http://", "https://", "urn:")):
        return text
    for map_name in (MEDICATION_SYSTEMS, V2_CODING_SYSTEMS):
        hit = terminology.translate(map_name, text)
        if hit is not None:
            return hit.code
    return None


def medication_code(
    code: str,
    system_name: str | None,
    terminology: Terminology,
    source: SourceConfig,
    display: str | None = None,
) -> MedicationCode:
    """Normalise one medication code; raises for a CIP13/UCD/ATC code that fails its checks."""
    value = "".join(code.split())
    if not value:
        raise NormalisationError("no medication code", "missing")
    label = (system_name or "").strip()
    system = system_for(label, terminology) if label else None
    if system in _PREFIX:
        return _keyed(system, value, display)
    if system == ATC:
        if not _ATC.match(value.upper()):
            raise NormalisationError(f"{value!r} is not an ATC code", "code")
        return MedicationCode(Coding(ATC, value.upper(), display), standard=True)
    if system is not None:
        return MedicationCode(Coding(system, value, display), standard=system in STANDARD_SYSTEMS)
    guessed = _guess(value, display)
    if guessed is not None:
        return guessed
    local = source.system("medication")
    why = f"unknown coding system {label!r}" if label else "no coding system given"
    return MedicationCode(
        Coding(local, value, display),
        standard=False,
        assumption=f"medication code {value}: {why}; kept as the source's local code",
    )


def _guess(value: str, display: str | None) -> MedicationCode | None:
    for system, prefix in _PREFIX.items():
        if value.startswith(prefix) and _ean13_ok(value):
            name = "CIP13" if system == CIP13 else "UCD"
            return MedicationCode(
                Coding(system, value, display),
                standard=True,
                assumption=f"medication code {value}: no coding system given; {name} "
                "recognised from its prefix and EAN-13 key",
            )
    if _ATC.match(value) and len(value) >= 4:
        return MedicationCode(
            Coding(ATC, value, display),
            standard=True,
            assumption=f"medication code {value}: no coding system given; ATC recognised "
            "from its shape",
        )
    return None
