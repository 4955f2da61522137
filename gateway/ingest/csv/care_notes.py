"""``care-notes``: one row → one DocumentReference (LOINC 11506-3) + its Binary (text/plain).

A nursing note is a document of the DMP's class 10 ("Compte rendu"), type 11506-3
("progress note", the nursing follow-up of DOMAIN.md §4). The identifier is the note's
own id when the export has one (``care-note`` system), else a natural key (resident,
time, SHA-256 of the text).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from gateway.ingest.csv.common import resident
from gateway.ingest.csv.rows import Row
from gateway.ingest.patients import local_key
from gateway.ingest.result import PatientRef
from gateway.normalise.codes import document_class
from gateway.normalise.terminology import Coding

NURSING_NOTE = Coding("http://loinc.org", "11506-3", "Progress note")


def build(row: Row) -> PatientRef | None:
    asm = row.asm
    patient = resident(row)
    when = row.when()
    text = row.text("text")
    if patient is None or when is None or not text:
        return patient
    raw = text.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    if row.text("note_id"):
        identifier = asm.business_id("care-note", row.text("note_id"))
    else:
        identifier = asm.natural_id("care-note", local_key(patient), when.value, digest)
    reference_url, binary_url = asm.urn("DocumentReference"), asm.urn("Binary")
    document: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "masterIdentifier": identifier,
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [NURSING_NOTE.to_fhir()]},
    }
    klass = document_class(NURSING_NOTE.code, asm.terminology)
    if klass is not None:
        document["category"] = [{"coding": [klass.to_fhir()]}]
    document["subject"] = {"reference": patient.reference}
    instant = asm.instant(when, row.location("date"), "DocumentReference.date")
    if instant:
        document["date"] = instant
    who = row.professional("author", "author_name")
    if who is not None:
        role = asm.practitioner_role(who)
        document["author"] = [{"reference": role}]
        asm.author = role
    document["custodian"] = {"reference": asm.organization()}
    if row.text("category"):
        document["description"] = row.text("category")
    document["content"] = [
        {
            "attachment": {
                "contentType": "text/plain; charset=utf-8",
                "url": binary_url,
                "size": len(raw),
                "hash": base64.b64encode(
                    hashlib.sha1(raw, usedforsecurity=False).digest()
                ).decode(),
            }
        }
    ]
    asm.add(
        {
            "resourceType": "Binary",
            "contentType": "text/plain; charset=utf-8",
            "securityContext": {"reference": reference_url},
            "data": base64.b64encode(raw).decode("ascii"),
        },
        binary_url,
    )
    asm.add(document, reference_url, if_none_exist=asm.condition(identifier))
    return patient
