"""PID → Patient, with the keys the identity stage matches on (INS first, then local).

Identifiers in PID-3 (and the legacy PID-2) are sorted by their assigning authority
(CX-4) and type (CX-5), after IHE PAM France:

- authority OID ``1.2.250.1.213.1.4.8`` / ``.9`` / ``.10`` / ``.11`` → INS-NIR, INS-NIA,
  test, demo, with the key checked (a failed key is an error: AE); type ``INS`` with
  no OID is read as an INS-NIR (assumption);
- the obsolete INS-C (``1.2.250.1.213.1.4.2``) is ignored, with a warning;
- types ``PI``, ``MR``, ``PT``, ``PN`` (or no type and no OID) from an authority the source
  owns (:meth:`SourceConfig.owns_authority`) → the source's local patient id;
- any other identifier with an ISO OID authority → ``urn:oid:<OID>`` (kept, not a key).

An INS may only be carried for a qualified identity (DOMAIN.md §1): when PID-32 gives
an identity reliability status other than ``VALI``, the INS is dropped (warning). FR
Core's identity-reliability extension records PID-32.

Demographics: PID-5 (XPN), PID-7 birth date, PID-8 gender (``GenderToAdministrativeGender``),
PID-11 (an address typed ``BDL`` is the birth place, XAD-9 its INSEE code), PID-13/14,
PID-29/30 death.
"""

from __future__ import annotations

from typing import Any

from gateway.fhir.identifiers import INS_NIR
from gateway.ingest.assembly import Assembly
from gateway.ingest.hl7v2.datatypes import ts, xad, xpn, xtn
from gateway.ingest.hl7v2.er7 import Composite, Er7Message, Segment
from gateway.ingest.issues import (
    GW_REQUIRED,
    HL7_REQUIRED_MISSING,
    HL7_SEGMENT_SEQUENCE,
    error,
    warning,
)
from gateway.ingest.patients import (
    BIRTH_PLACE,
    IDENTITY_RELIABILITY,
    INSEE_CODE,
    INSEE_SYSTEM,
    RELIABILITY_SYSTEM,
    add_patient,
    ordered,
)
from gateway.ingest.result import PatientRef
from gateway.normalise.codes import gender
from gateway.normalise.errors import NormalisationError
from gateway.normalise.identifiers import (
    NormalisedIdentifier,
    ins,
    ins_system_for_oid,
    local_patient,
    tddui_local_patient,
)
from gateway.normalise.text import clean
from gateway.normalise.times import check_birth_date

INS_C_OID = "1.2.250.1.213.1.4.2"
_LOCAL_TYPES = frozenset({"PI", "MR", "MRN", "PT", "PN", ""})


def _classify(rep: Composite, asm: Assembly) -> NormalisedIdentifier | dict[str, Any] | None:
    """One CX: a key (NormalisedIdentifier), an extra identifier (dict), or nothing."""
    value = clean(rep.c(1))
    namespace, oid, type_code = rep.c(4, 1), rep.c(4, 2), rep.c(5).upper()
    if not value:
        return None
    if oid == INS_C_OID:
        asm.report(warning("obsolete INS-C identifier ignored", rep.location))
        return None
    system = ins_system_for_oid(oid) if oid else None
    if system is None and type_code in ("INS", "INS-NIR") and not oid:
        system = INS_NIR
        asm.assume("identifier typed INS without an OID read as an INS-NIR", rep.location)
    if system is not None:
        try:
            return ins(value, system)
        except NormalisationError as exc:
            asm.refuse(exc, rep.at(1), "Patient.identifier")
            return None
    if type_code in _LOCAL_TYPES and (oid or namespace or type_code):
        if asm.source.owns_authority(namespace, oid):
            return local_patient(value, asm.source)
    elif type_code in _LOCAL_TYPES:
        asm.assume(
            "PID-3 identifier without type or authority read as the source's local id", rep.location
        )
        return local_patient(value, asm.source)
    if oid:
        out: dict[str, Any] = {"use": "secondary", "system": f"urn:oid:{oid}", "value": value}
        if type_code:
            out["type"] = {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": type_code}
                ]
            }
        return out
    asm.report(
        warning(
            f"identifier of type {type_code or '?'} without an OID authority: not kept",
            rep.location,
        )
    )
    return None


def _reliability(pid: Segment) -> tuple[list[str], dict[str, Any] | None]:
    codes = [code for code in (r.c(1).upper() for r in pid.reps(32)) if code]
    if not codes:
        return [], None
    extension = {
        "url": IDENTITY_RELIABILITY,
        "extension": [
            {
                "url": "identityStatus",
                "valueCoding": {"system": RELIABILITY_SYSTEM, "code": codes[0]},
            }
        ],
    }
    return codes, extension


def _birth_place(rep: Composite) -> dict[str, Any]:
    address: dict[str, Any] = {}
    if rep.c(9):
        address["extension"] = [
            {"url": INSEE_CODE, "valueCoding": {"system": INSEE_SYSTEM, "code": rep.c(9)}}
        ]
    for key, index in (("city", 3), ("postalCode", 5), ("country", 6)):
        if rep.c(index):
            address[key] = rep.c(index)
    return {"url": BIRTH_PLACE, "valueAddress": address}


def read_patient(message: Er7Message, asm: Assembly, *, update: bool) -> PatientRef | None:
    """Add the Patient of the message's first PID; ``None`` (with an error) when impossible."""
    pid = message.find("PID")
    if pid is None:
        asm.report(
            error(
                "the message has no PID segment",
                message.msh.location,
                code="required",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_SEGMENT_SEQUENCE,
            )
        )
        return None
    return patient_from_pid(pid, asm, update=update)


def patient_from_pid(pid: Segment, asm: Assembly, *, update: bool) -> PatientRef | None:
    keys: list[NormalisedIdentifier] = []
    extra: list[dict[str, Any]] = []
    for field in (3, 2):
        for rep in pid.reps(field):
            found = _classify(rep, asm)
            if isinstance(found, NormalisedIdentifier):
                keys.append(found)
            elif found is not None:
                extra.append(found)
    statuses, reliability = _reliability(pid)
    if any(k.is_ins for k in keys):
        if statuses and "VALI" not in statuses:
            asm.report(
                warning(
                    f"identity status {statuses[0]} is not VALI: the INS is not carried",
                    pid.at(32),
                    expression="Patient.identifier",
                )
            )
            keys = [k for k in keys if not k.is_ins]
        elif not statuses:
            asm.assume("identity reliability (PID-32) not given: INS used as sent", pid.at(3))
    keys = ordered(keys)
    if not keys:
        asm.report(
            error(
                "PID-3 holds no usable patient identifier (INS or the source's local id)",
                pid.at(3),
                code="required",
                expression="Patient.identifier",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_REQUIRED_MISSING,
            )
        )
        return None
    resource: dict[str, Any] = {"resourceType": "Patient"}
    extensions = [e for e in (reliability,) if e]
    birth_places = [r for r in pid.reps(11) if r.c(7).upper() == "BDL"]
    if birth_places:
        extensions.append(_birth_place(birth_places[0]))
    if extensions:
        resource["extension"] = extensions
    identifiers = [k.to_fhir() for k in keys] + extra
    local = next((k for k in keys if not k.is_ins), None)
    if local is not None and asm.source.tddui_local_ids:
        identifiers.append(tddui_local_patient(local.value, asm.source).to_fhir())
    resource["identifier"] = identifiers
    names = [n for n in (xpn(r) for r in pid.reps(5)) if n]
    if names:
        resource["name"] = names
    else:
        asm.report(warning("the patient has no name (PID-5)", pid.at(5), expression="Patient.name"))
    telecom = [t for t in (xtn(r) for f in (13, 14) for r in pid.reps(f)) if t]
    if telecom:
        resource["telecom"] = telecom
    sex = pid.value(8)
    if sex:
        try:
            resource["gender"] = gender(sex, asm.terminology)
        except NormalisationError as exc:
            asm.refuse(exc, pid.at(8), "Patient.gender")
    birth = ts(pid.first(7), asm, "Patient.birthDate")
    if birth is not None:
        try:
            check_birth_date(birth.date)
            resource["birthDate"] = birth.date
        except NormalisationError as exc:
            asm.refuse(exc, pid.first(7).location, "Patient.birthDate")
    if pid.value(30).upper() == "Y":
        death = ts(pid.first(29), asm, "Patient.deceased")
        resource["deceasedDateTime" if death else "deceasedBoolean"] = (
            death.value if death else True
        )
    addresses = [a for a in (xad(r) for r in pid.reps(11) if r.c(7).upper() != "BDL") if a]
    if addresses:
        resource["address"] = addresses
    birth_place = (birth_places[0].c(9) or None) if birth_places else None
    return add_patient(asm, resource, keys, update=update, birth_place=birth_place)
