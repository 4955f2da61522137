"""Identifiers to the canonical French systems (DOMAIN.md §1), check keys verified.

- INS-NIR, INS-NIA (and their test/demo systems): 15 characters, key = 97 − (13 first
  mod 97), Corsica-aware (:func:`gateway.fhir.identifiers.nir_key`); spaces and dots
  that people type are removed. Typed ``INS-NIR``/``INS-NIA``… in FR Core's
  ``fr-core-cs-v2-0203``, ``use=official`` (``fr-core-patient-ins``).
- RPPS (11 digits, Luhn) and ADELI (9 characters) → idNat_PS (``8``+RPPS, ``0``+ADELI),
  plus the RPPS identifier itself (``fr-core-practitioner`` slices ``idNatPs``, ``rpps``).
- FINESS (9 characters, Luhn) → idNat_Struct (``1``+FINESS) and the FINESS identifier.
- A source's local patient id → the source's own system (:class:`SourceConfig`), typed
  ``PI``; optionally tdDUI's ``3``+FINESS``/``+id form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from gateway.fhir.identifiers import (
    FINESS,
    IDNAT_PS,
    IDNAT_STRUCT,
    INS_NIA,
    INS_NIR,
    INS_NIR_DEMO,
    INS_NIR_TEST,
    RPPS,
    is_valid_finess,
    is_valid_idnat_ps,
    is_valid_nir,
    is_valid_rpps,
)
from gateway.normalise.errors import NormalisationError
from gateway.normalise.source import TDDUI_LOCAL_PATIENT_SYSTEM, SourceConfig
from gateway.normalise.text import clean

FR_CORE_V2_0203 = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

IdentifierKind = Literal[
    "ins-nir",
    "ins-nia",
    "ins-nir-test",
    "ins-nir-demo",
    "local",
    "idnat-ps",
    "rpps",
    "idnat-struct",
    "finess",
    "other",
]
ProfessionalKind = Literal["rpps", "adeli", "idnat_ps"]

_INS: dict[str, tuple[IdentifierKind, str]] = {
    INS_NIR: ("ins-nir", "INS-NIR"),
    INS_NIA: ("ins-nia", "INS-NIA"),
    INS_NIR_TEST: ("ins-nir-test", "INS-NIR-TEST"),
    INS_NIR_DEMO: ("ins-nir-demo", "INS-NIR-DEMO"),
}
_TYPED_NOISE = re.compile(r"[\s.\-_/]")
_ADELI = re.compile(r"^[0-9A-Z]{9}$")


@dataclass(frozen=True, slots=True)
class NormalisedIdentifier:
    """A FHIR Identifier in a canonical system."""

    system: str
    value: str
    kind: IdentifierKind
    use: str | None = None
    type_system: str | None = None
    type_code: str | None = None

    @property
    def is_ins(self) -> bool:
        return self.kind.startswith("ins-")

    @property
    def token(self) -> str:
        """``system|value``, the search token for conditional references."""
        return f"{self.system}|{self.value}"

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.use:
            out["use"] = self.use
        if self.type_code and self.type_system:
            out["type"] = {"coding": [{"system": self.type_system, "code": self.type_code}]}
        out["system"] = self.system
        out["value"] = self.value
        return out


def _compact(value: str) -> str:
    return _TYPED_NOISE.sub("", value).upper()


def ins(value: str, system: str = INS_NIR) -> NormalisedIdentifier:
    """An INS (NIR or NIA, real, test or demo system) with its key verified."""
    if system not in _INS:
        raise NormalisationError(f"{system!r} is not an INS system", "identifier")
    compact = _compact(value)
    if not compact:
        raise NormalisationError("empty INS", "missing")
    if len(compact) == 13:
        raise NormalisationError(f"INS {compact} has no 2-digit key", "identifier")
    if not is_valid_nir(compact):
        raise NormalisationError(
            f"INS {compact} fails its check (15 characters, key = 97 - NIR mod 97)",
            "identifier",
        )
    kind, type_code = _INS[system]
    return NormalisedIdentifier(system, compact, kind, "official", FR_CORE_V2_0203, type_code)


def local_patient(value: str, source: SourceConfig) -> NormalisedIdentifier:
    """A patient id local to ``source``, in the source's own system."""
    text = clean(value)
    if not text:
        raise NormalisationError("empty local patient id", "missing")
    return NormalisedIdentifier(source.patient_system, text, "local", "usual", V2_0203, "PI")


def tddui_local_patient(value: str, source: SourceConfig) -> NormalisedIdentifier:
    """tdDUI's medico-social local id: ``3`` + FINESS + ``/`` + the local id."""
    text = clean(value)
    if not text:
        raise NormalisationError("empty local patient id", "missing")
    return NormalisedIdentifier(
        TDDUI_LOCAL_PATIENT_SYSTEM, f"3{source.finess}/{text}", "local", "usual", V2_0203, "PI"
    )


def _guess_professional(compact: str) -> ProfessionalKind:
    if len(compact) == 11 and compact.isdigit():
        return "rpps"
    if (len(compact) == 12 and compact.startswith("8")) or (
        len(compact) == 10 and compact[0] == "0"
    ):
        return "idnat_ps"
    if _ADELI.match(compact):
        return "adeli"
    raise NormalisationError(
        f"{compact!r} is neither an RPPS (11 digits), an ADELI (9 characters) nor an idNat_PS",
        "identifier",
    )


@lru_cache(maxsize=4096)
def professional(
    value: str, kind: ProfessionalKind | None = None
) -> tuple[NormalisedIdentifier, ...]:
    """idNat_PS (and RPPS when there is one) for an RPPS, ADELI or idNat_PS number.

    Pure and memoised: the same few professionals sign every row of an export.
    """
    compact = _compact(value)
    if not compact:
        raise NormalisationError("empty professional identifier", "missing")
    kind = kind or _guess_professional(compact)
    if kind == "idnat_ps":
        if not is_valid_idnat_ps(compact):
            raise NormalisationError(f"idNat_PS {compact} fails its check", "identifier")
        if compact.startswith("8"):
            return professional(compact[1:], "rpps")
        idnat = compact
    elif kind == "rpps":
        if not is_valid_rpps(compact):
            raise NormalisationError(
                f"RPPS {compact} fails its check (11 digits, Luhn)", "identifier"
            )
        return (
            NormalisedIdentifier(
                IDNAT_PS, "8" + compact, "idnat-ps", None, FR_CORE_V2_0203, "IDNPS"
            ),
            NormalisedIdentifier(RPPS, compact, "rpps", None, FR_CORE_V2_0203, "RPPS"),
        )
    else:
        if not _ADELI.match(compact):
            raise NormalisationError(f"ADELI {compact} must have 9 characters", "identifier")
        idnat = "0" + compact
    return (NormalisedIdentifier(IDNAT_PS, idnat, "idnat-ps", None, FR_CORE_V2_0203, "IDNPS"),)


def structure(finess: str) -> tuple[NormalisedIdentifier, ...]:
    """idNat_Struct and FINESS identifiers of an establishment (FINESS key verified)."""
    compact = _compact(finess)
    if not is_valid_finess(compact):
        raise NormalisationError(f"FINESS {compact} fails its check", "identifier")
    return (
        NormalisedIdentifier(
            IDNAT_STRUCT, "1" + compact, "idnat-struct", None, FR_CORE_V2_0203, "IDNST"
        ),
        NormalisedIdentifier(FINESS, compact, "finess", None, FR_CORE_V2_0203, "FINEG"),
    )


def ins_system_for_oid(oid: str) -> str | None:
    """The INS system named by an assigning-authority OID (``1.2.250.1.213.1.4.8``…)."""
    system = f"urn:oid:{oid.strip()}"
    return system if system in _INS else None
