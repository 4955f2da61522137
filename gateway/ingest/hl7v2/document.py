"""MDM^T02 (original document notification and content) → DocumentReference + Binary.

TXA (HL7 v2.5 §9.6.1) describes the document; OBX segments carry its content:

- an ``ED`` OBX-5 (source ^ type ^ subtype ^ encoding ^ data): the data decoded from
  ``Base64``, ``Hex`` or ``A`` (ASCII) encodings, MIME type ``type/subtype``;
- else ``TX``/``FT``/``ST`` OBX-5 lines: the text, as ``text/plain; charset=utf-8``.

DocumentReference (https://hl7.org/fhir/R4/documentreference.html): masterIdentifier
TXA-12 (an OID as ``urn:ietf:rfc:3986``, else the source's ``document`` system), status
from TXA-19, docStatus from TXA-17, type TXA-2 via ``V2DocumentTypeToLoinc``, category
the DMP class (TRE_A03), date TXA-6 (else TXA-4), author TXA-9 (else TXA-5), custodian the
source, securityLabel TXA-18, content → the Binary (``url`` urn:uuid, size, SHA-1 hash).
The Binary's ``securityContext`` is the DocumentReference, so access to the content
follows access to the document.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from gateway.ingest.assembly import Assembly
from gateway.ingest.hl7v2.datatypes import ts, xcn
from gateway.ingest.hl7v2.er7 import Composite, Er7Message, Segment
from gateway.ingest.hl7v2.patient import read_patient
from gateway.ingest.issues import (
    GW_PARTIAL,
    GW_REQUIRED,
    GW_VALUE,
    HL7_DATA_TYPE,
    HL7_REQUIRED_MISSING,
    HL7_SEGMENT_SEQUENCE,
    error,
    warning,
)
from gateway.ingest.result import MergeInstruction, PatientRef
from gateway.normalise.codes import document_class, document_type

_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")
_DOC_STATUS = {
    "AU": "final",
    "LA": "final",
    "DI": "preliminary",
    "DO": "preliminary",
    "IP": "preliminary",
    "IN": "preliminary",
    "PA": "preliminary",
}
_STATUS = {"AV": "current", "OB": "superseded", "CA": "entered-in-error", "UN": "current"}
_CONFIDENTIALITY = {"V": "V", "R": "R", "U": "N", "N": "N"}
_TYPES = {
    "AP": "application",
    "TEXT": "text",
    "TX": "text",
    "IM": "image",
    "AU": "audio",
    "MU": "multipart",
}
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def _decode_ed(comp: Composite, asm: Assembly) -> tuple[bytes, str] | None:
    kind, subtype, encoding = comp.c(2), comp.c(3), comp.c(4).upper()
    data = comp.c(5)
    if not data:
        asm.report(
            error(
                "the ED value holds no data (OBX-5.5)",
                comp.at(5),
                code="required",
                expression="DocumentReference.content",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_REQUIRED_MISSING,
            )
        )
        return None
    major = kind if "/" in kind else _TYPES.get(kind.upper(), kind.lower() or "application")
    mime = major if "/" in major else f"{major}/{subtype.lower() or 'octet-stream'}"
    try:
        if encoding in ("BASE64", "B64"):
            raw = base64.b64decode("".join(data.split()), validate=True)
        elif encoding == "HEX":
            raw = bytes.fromhex("".join(data.split()))
        else:
            raw = data.encode("utf-8")
    except (binascii.Error, ValueError):
        asm.report(
            error(
                f"the ED data is not valid {comp.c(4) or 'text'}",
                comp.at(5),
                code="value",
                expression="Binary.data",
                gateway_code=GW_VALUE,
                hl7_error=HL7_DATA_TYPE,
            )
        )
        return None
    return raw, mime


def _content(message: Er7Message, asm: Assembly) -> tuple[bytes, str] | None:
    obxs = message.all("OBX")
    embedded = [s for s in obxs if s.value(2).upper() == "ED"]
    if embedded:
        if len(embedded) > 1:
            asm.report(warning("several ED values: only the first is kept", embedded[1].at(5)))
        return _decode_ed(embedded[0].first(5), asm)
    lines = [r.text() for s in obxs if s.value(2).upper() in ("TX", "FT", "ST") for r in s.reps(5)]
    ignored = [s for s in obxs if s.value(2).upper() not in ("TX", "FT", "ST", "ED")]
    for seg in ignored:
        asm.report(
            warning(
                f"OBX of type {seg.value(2)} is not document content: ignored",
                seg.at(2),
                gateway_code=GW_PARTIAL,
            )
        )
    if not lines:
        asm.report(
            error(
                "the message carries no document content (OBX TX/FT/ED)",
                message.msh.location,
                code="required",
                expression="DocumentReference.content",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_SEGMENT_SEQUENCE,
            )
        )
        return None
    return "\n".join(lines).encode("utf-8"), "text/plain; charset=utf-8"


def _master_identifier(txa: Segment, asm: Assembly) -> dict[str, str] | None:
    ei = txa.first(12)
    value, universal = ei.c(1), ei.c(3)
    if not value:
        return None
    if universal and _OID.match(universal):
        return {"system": f"urn:oid:{universal}", "value": value}
    if _OID.match(value) and not ei.c(2):
        return {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{value}"}
    return asm.business_id("document", value)


def document(
    message: Er7Message, asm: Assembly
) -> tuple[PatientRef | None, tuple[MergeInstruction, ...]]:
    patient = read_patient(message, asm, update=False)
    txa = message.find("TXA")
    if txa is None:
        asm.report(
            error(
                "an MDM^T02 needs a TXA segment",
                message.msh.location,
                code="required",
                gateway_code=GW_REQUIRED,
                hl7_error=HL7_SEGMENT_SEQUENCE,
            )
        )
        return patient, ()
    content = _content(message, asm)
    if patient is None or content is None:
        return patient, ()
    raw, mime = content
    reference: dict[str, Any] = {"resourceType": "DocumentReference"}
    master = _master_identifier(txa, asm)
    if master:
        reference["masterIdentifier"] = master
    reference["status"] = _STATUS.get(txa.value(19).upper(), "current")
    doc_status = _DOC_STATUS.get(txa.value(17).upper())
    if doc_status:
        reference["docStatus"] = doc_status
    type_code = txa.value(2)
    loinc = document_type(type_code, asm.terminology) if type_code else None
    if loinc is not None:
        reference["type"] = {"coding": [loinc.to_fhir()]}
        klass = document_class(loinc.code, asm.terminology)
        if klass is not None:
            reference["category"] = [{"coding": [klass.to_fhir()]}]
    elif type_code:
        reference["type"] = {
            "coding": [{"system": asm.source.system("cs/0270"), "code": type_code}],
            "text": type_code,
        }
        asm.report(
            warning(
                f"document type {type_code!r} has no LOINC mapping: kept as sent",
                txa.at(2),
                expression="DocumentReference.type",
            )
        )
    reference["subject"] = {"reference": patient.reference}
    when = ts(txa.first(6), asm, "DocumentReference.date") or ts(
        txa.first(4), asm, "DocumentReference.date"
    )
    if when is not None:
        instant = asm.instant(when, txa.at(6), "DocumentReference.date")
        if instant:
            reference["date"] = instant
    author = xcn(txa.first(9), asm, "DocumentReference.author") or xcn(
        txa.first(5), asm, "DocumentReference.author"
    )
    if author is not None:
        role = asm.practitioner_role(author)
        reference["author"] = [{"reference": role}]
        asm.author = role
    reference["custodian"] = {"reference": asm.organization()}
    label = _CONFIDENTIALITY.get(txa.value(18).upper())
    if label:
        reference["securityLabel"] = [
            {"coding": [{"system": CONFIDENTIALITY_SYSTEM, "code": label}]}
        ]
    reference_url = asm.urn("DocumentReference")
    binary_url = asm.urn("Binary")
    attachment: dict[str, Any] = {
        "contentType": mime,
        "url": binary_url,
        "size": len(raw),
        "hash": base64.b64encode(hashlib.sha1(raw, usedforsecurity=False).digest()).decode("ascii"),
    }
    reference["content"] = [{"attachment": attachment}]
    binary = {
        "resourceType": "Binary",
        "contentType": mime,
        "securityContext": {"reference": reference_url},
        "data": base64.b64encode(raw).decode("ascii"),
    }
    asm.add(binary, binary_url)
    condition = asm.condition(master) if master else None
    asm.add(reference, reference_url, if_none_exist=condition)
    return patient, ()
