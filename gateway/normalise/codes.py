"""Small code normalisers: gender, route, coding-system names, document types.

Each goes through a ConceptMap of ``profiles/conceptmaps`` (local configuration that a
deployment may extend), never through code.

- Gender: HL7 table 0001 (``F``, ``M``, ``U``, ``O``, ``A``, ``N``) and French labels
  (``H``, ``Homme``, ``Femme``, ``I``…) to AdministrativeGender, restricted to what the
  FR Core gender value set allows (``male``, ``female``, ``unknown``: required binding
  in ``fr-core-patient``, so ``O``/``A``/``N`` map to ``unknown``).
- Route: HL7 table 0162 and French labels to EDQM Standard Terms.
- Coding systems: HL7 table 0396 names (``LN``, ``SCT``, ``I10``…) to FHIR system URIs.
- Document types: HL7 table 0270 (TXA-2) to LOINC, then LOINC to the DMP class
  (TRE_A03, DOMAIN.md §4).
"""

from __future__ import annotations

import re

from gateway.normalise.errors import NormalisationError
from gateway.normalise.terminology import (
    DOCUMENT_CLASSES,
    DOCUMENT_TYPES,
    GENDER,
    ROUTES,
    V2_CODING_SYSTEMS,
    Coding,
    Terminology,
)

V2_0001 = "http://terminology.hl7.org/CodeSystem/v2-0001"
LOCAL_GENDER = "https://dmp-gateway.fr/fhir/CodeSystem/local-gender"
V2_0162 = "http://terminology.hl7.org/CodeSystem/v2-0162"
LOCAL_ROUTE = "https://dmp-gateway.fr/fhir/CodeSystem/local-route"
V2_0270 = "http://terminology.hl7.org/CodeSystem/v2-0270"
LOINC = "http://loinc.org"
_LOINC_CODE = re.compile(r"^\d{1,7}-\d$")


def gender(code: str, terminology: Terminology, *, hl7: bool = True) -> str:
    """AdministrativeGender for an HL7 (``hl7=True``) or French-label gender code."""
    text = code.strip()
    if not text:
        raise NormalisationError("no gender given", "missing")
    groups = (V2_0001, LOCAL_GENDER) if hl7 else (LOCAL_GENDER, V2_0001)
    for group in groups:
        hit = terminology.translate(GENDER, text, group)
        if hit is not None:
            return hit.code
    raise NormalisationError(f"unknown gender code {text!r}", "code")


def route(code: str, terminology: Terminology) -> Coding | None:
    """The EDQM route for an HL7 0162 code or a French label; ``None`` when unmapped."""
    text = code.strip()
    if not text:
        return None
    return terminology.translate(ROUTES, text, V2_0162) or terminology.translate(
        ROUTES, text, LOCAL_ROUTE
    )


def coding_system(name: str, terminology: Terminology) -> str | None:
    """The FHIR system URI for an HL7 coding-system name; URIs pass through."""
    text = name.strip()
    if not text:
        return None
    if text.startswith(("http://", "https://", "urn:")):
        return text
    hit = terminology.translate(V2_CODING_SYSTEMS, text)
    return hit.code if hit else None


def document_type(code: str, terminology: Terminology) -> Coding | None:
    """The LOINC document type for an HL7 0270 code (or a LOINC code given as is)."""
    text = code.strip()
    if not text:
        return None
    hit = terminology.translate(DOCUMENT_TYPES, text, V2_0270)
    if hit is None and _LOINC_CODE.match(text):
        return Coding(LOINC, text)
    return hit


def document_class(type_code: str, terminology: Terminology) -> Coding | None:
    """The DMP class (TRE_A03) of a LOINC document type."""
    return terminology.translate(DOCUMENT_CLASSES, type_code, LOINC)
