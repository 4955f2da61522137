"""Security labels: reading ``meta.security`` / ``securityLabel`` into a canonical set.

Known labels (DOMAIN.md §3.6) become short canonical strings:

- TRE_A07 visibility (OID 1.2.250.1.213.1.1.4.13): ``MASQUE_PS``, ``INVISIBLE_PATIENT``,
  ``INVISIBLE_REPRESENTANTS_LEGAUX``;
- HL7 confidentiality (``v3-Confidentiality``, also carried by TRE_A07): ``N``, ``R``, ``V``.

Anything else is kept as ``system|code`` and is *unknown*: the engine denies every access
to a resource that carries one (fail closed), unless the label is tolerated by
configuration. See https://hl7.org/fhir/R4/security-labels.html.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

MASQUE_PS = "MASQUE_PS"
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"
VISIBILITY_LABELS = frozenset({MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX})
CONFIDENTIALITY_RANK = {"N": 0, "R": 1, "V": 2}
KNOWN_LABELS = VISIBILITY_LABELS | frozenset(CONFIDENTIALITY_RANK)

TRE_A07_SYSTEMS = frozenset(
    {
        # Both spellings are published (PDSm uses "Status", the JDV "Statut").
        "https://mos.esante.gouv.fr/NOS/TRE_A07-StatusVisibiliteDocument/FHIR/TRE-A07-StatusVisibiliteDocument",
        "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument",
        "urn:oid:1.2.250.1.213.1.1.4.13",
    }
)
TRE_A07 = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatusVisibiliteDocument/FHIR/"
    "TRE-A07-StatusVisibiliteDocument"
)
CONFIDENTIALITY_SYSTEMS = frozenset(
    {
        "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
        "urn:oid:2.16.840.1.113883.5.25",
    }
)
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def canonical_label(system: object, code: object) -> str:
    """The canonical name of one coding: a known label, or ``system|code`` if unknown."""
    sys_ = system if isinstance(system, str) else ""
    code_ = code if isinstance(code, str) else ""
    if sys_ in TRE_A07_SYSTEMS and code_ in KNOWN_LABELS:
        return code_
    if sys_ in CONFIDENTIALITY_SYSTEMS and code_ in CONFIDENTIALITY_RANK:
        return code_
    return f"{sys_}|{code_}"


def _codings(value: Any) -> Iterable[Mapping[str, Any]]:
    """Codings from a list of Coding (meta.security) or CodeableConcept (securityLabel)."""
    if not isinstance(value, list):
        return
    for item in value:
        if not isinstance(item, Mapping):
            yield {}  # a malformed entry is an unknown label, never a silent "no label"
            continue
        nested = item.get("coding")
        if isinstance(nested, list):
            yield from (c if isinstance(c, Mapping) else {} for c in nested)
        else:
            yield item


def labels_of(resource: Mapping[str, Any]) -> frozenset[str]:
    """Every security label of a FHIR resource, from ``meta.security`` and, for a
    DocumentReference, ``securityLabel`` (PDSm carries TRE_A07 there)."""
    out: set[str] = set()
    meta = resource.get("meta")
    if isinstance(meta, Mapping) and "security" in meta:
        security = meta["security"]
        if not isinstance(security, list):
            out.add("|")
        out.update(canonical_label(c.get("system"), c.get("code")) for c in _codings(security))
    if "securityLabel" in resource:
        value = resource["securityLabel"]
        if not isinstance(value, list):
            out.add("|")
        out.update(canonical_label(c.get("system"), c.get("code")) for c in _codings(value))
    return frozenset(out)


def unknown_labels(labels: Iterable[str], tolerated: frozenset[str] = frozenset()) -> set[str]:
    return {label for label in labels if label not in KNOWN_LABELS and label not in tolerated}


def confidentiality_of(labels: Iterable[str]) -> list[str]:
    """The confidentiality codes present, most restrictive first."""
    return sorted(
        (label for label in labels if label in CONFIDENTIALITY_RANK),
        key=lambda c: -CONFIDENTIALITY_RANK[c],
    )


def coding_for(label: str) -> dict[str, str]:
    """The FHIR Coding to write for a canonical label (inverse of :func:`canonical_label`)."""
    if label in VISIBILITY_LABELS:
        return {"system": TRE_A07, "code": label}
    if label in CONFIDENTIALITY_RANK:
        return {"system": V3_CONFIDENTIALITY, "code": label}
    system, _, code = label.partition("|")
    return {"system": system, "code": code}


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months, clamped to the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
