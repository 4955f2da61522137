"""HL7 v2.5 data types to FHIR data types (HL7 v2-to-FHIR IG, datatype maps).

Each function reads one :class:`Composite` (a field repetition) and reports refusals
and assumptions to the :class:`Assembly`, located at the component they concern.

- TS/DTM → date/dateTime (:func:`ts`);
- CWE/CE/CNE → CodeableConcept (:func:`cwe`): coding-system names through the
  ``V2CodingSystemToUri`` ConceptMap; a name it does not know is the source's own
  code system (``<source base>/cs/<name>``);
- XPN → HumanName (:func:`xpn`), XCN → a professional with idNat_PS (:func:`xcn`),
  XAD → Address (:func:`xad`), XTN → ContactPoint (:func:`xtn`).
"""

from __future__ import annotations

from typing import Any

from gateway.fhir.identifiers import IDNAT_PS
from gateway.ingest.assembly import Assembly, Professional
from gateway.ingest.hl7v2.er7 import Composite
from gateway.normalise.codes import coding_system
from gateway.normalise.errors import NormalisationError
from gateway.normalise.identifiers import NormalisedIdentifier, ProfessionalKind, professional
from gateway.normalise.names import human_name
from gateway.normalise.text import clean
from gateway.normalise.times import FhirTime, hl7_ts

_NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous"}
_ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "M": "home", "BA": "billing"}
_PROFESSIONAL_TYPES: dict[str, ProfessionalKind] = {
    "RPPS": "rpps",
    "ADELI": "adeli",
    "IDNPS": "idnat_ps",
}


def ts(comp: Composite, asm: Assembly, expression: str = "") -> FhirTime | None:
    """TS/DTM component 1 as a FHIR date or dateTime; ``None`` when empty or refused."""
    text = comp.c(1)
    if not text:
        return None
    try:
        value = hl7_ts(text)
    except NormalisationError as exc:
        asm.refuse(exc, comp.location, expression)
        return None
    if value.assumption:  # the location is only built for an assumption to record
        asm.assume(value.assumption, comp.location)
    return value


def _coding(code: str, display: str, system_name: str, asm: Assembly) -> dict[str, str] | None:
    if not code:
        return None
    system = coding_system(system_name, asm.terminology) if system_name else None
    if system is None:
        system = asm.code_system(system_name)
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def cwe(comp: Composite, asm: Assembly) -> dict[str, Any] | None:
    """CWE/CE/CNE as a CodeableConcept (primary and alternate codings, original text)."""
    if comp.empty:
        return None
    codings = [
        c
        for c in (
            _coding(comp.c(1), comp.c(2), comp.c(3), asm),
            _coding(comp.c(4), comp.c(5), comp.c(6), asm),
        )
        if c
    ]
    out: dict[str, Any] = {}
    if codings:
        out["coding"] = codings
    text = comp.c(9) or comp.c(2) or comp.c(5)
    if text:
        out["text"] = text
    return out or None


def xpn(comp: Composite) -> dict[str, Any] | None:
    """XPN as a HumanName: family (FN.1), given (2, 3), suffix (4), prefix (5), use (7).

    On the legal (``L``, birth) name, IHE PAM France puts the list of birth given names
    in XPN-3: it becomes FR Core's ``birth-list-given-name`` extension, and ``given``
    holds the first given name (XPN-2) only.
    """
    use = _NAME_USE.get(comp.c(7).upper())
    birth_list = comp.c(3) if use == "official" and comp.c(3) else None
    given = [comp.c(2)] if birth_list else [comp.c(2), comp.c(3)]
    return human_name(
        comp.c(1, 1),
        given,
        prefix=[comp.c(5)],
        suffix=[comp.c(4)],
        use=use,
        birth_given_names=birth_list,
    )


def xcn(comp: Composite, asm: Assembly, expression: str = "") -> Professional | None:
    """XCN as a professional: idNat_PS when the id is an RPPS/ADELI/idNat_PS, else local.

    An id is national when its assigning authority (XCN-9) is the idNat_PS OID
    ``1.2.250.1.71.4.2.1`` or its type (XCN-13) is ``RPPS``, ``ADELI`` or ``IDNPS``.
    """
    if comp.empty:
        return None
    value = comp.c(1)
    name = human_name(comp.c(2, 1), [comp.c(3), comp.c(4)], prefix=[comp.c(6)], suffix=[comp.c(5)])
    if not value:
        return None
    authority_oid = comp.c(9, 2)
    type_code = comp.c(13).upper()
    kind = _PROFESSIONAL_TYPES.get(type_code)
    if kind is None and f"urn:oid:{authority_oid}" == IDNAT_PS:
        kind = "idnat_ps"
    identifiers: tuple[NormalisedIdentifier, ...]
    if kind is not None:
        try:
            identifiers = professional(value, kind)
        except NormalisationError as exc:
            asm.refuse(exc, comp.at(1), expression)
            return None
    else:
        identifiers = (
            NormalisedIdentifier(asm.source.system("practitioner"), clean(value), "other"),
        )
    return Professional(identifiers, name)


def xad(comp: Composite) -> dict[str, Any] | None:
    """XAD as an Address (street 1.1 and 2, city 3, state 4, postal code 5, country 6)."""
    lines = [x for x in (comp.c(1, 1), comp.c(2)) if x]
    out: dict[str, Any] = {}
    use = _ADDRESS_USE.get(comp.c(7).upper())
    if use:
        out["use"] = use
    if lines:
        out["line"] = lines
    for key, index in (("city", 3), ("state", 4), ("postalCode", 5), ("country", 6)):
        if comp.c(index):
            out[key] = comp.c(index)
    return out if any(k in out for k in ("line", "city", "postalCode", "country")) else None


def xtn(comp: Composite) -> dict[str, Any] | None:
    """XTN as a ContactPoint: e-mail (XTN-4) or phone (XTN-1, else XTN-5..7)."""
    equipment = comp.c(3).upper()
    use_code = comp.c(2).upper()
    email = comp.c(4)
    if equipment in ("INTERNET", "X.400") or (use_code == "NET" and email):
        if not email:
            return None
        return {"system": "email", "value": email}
    number = comp.c(1) or "".join(x for x in (comp.c(5), comp.c(6), comp.c(7)) if x)
    if not number:
        return None
    system = {"FX": "fax", "BP": "pager"}.get(equipment, "phone")
    out: dict[str, Any] = {"system": system, "value": number}
    use = {"PRN": "home", "WPN": "work", "ORN": "home", "VHN": "home", "EMR": "temp"}.get(use_code)
    if equipment == "CP":
        use = "mobile"
    if use:
        out["use"] = use
    return out
