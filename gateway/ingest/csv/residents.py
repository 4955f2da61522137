"""``residents``: one roster row → one Patient (INS first, then the local id).

Same identity rules as HL7 PID (:mod:`gateway.ingest.hl7v2.patient`): an INS is carried
only for a validated identity (``statut identité`` VALI; when the column is absent the
INS is kept, an assumption); FR Core official name = birth name with the birth given
names list (``prénoms``, separated by commas or spaces) and its first given name; the
usual name when the row gives one; birth place INSEE code; identity reliability.
The general practitioner is referenced as a Practitioner (idNat_PS).
"""

from __future__ import annotations

from typing import Any

from gateway.ingest.csv.rows import Row
from gateway.ingest.issues import warning
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
from gateway.normalise.errors import NormalisationError
from gateway.normalise.identifiers import NormalisedIdentifier, local_patient
from gateway.normalise.names import human_name
from gateway.normalise.times import check_birth_date, french_date


def _given(text: str) -> list[str]:
    parts = text.split(",") if "," in text else text.split()
    return [p.strip() for p in parts if p.strip()]


def build(row: Row) -> PatientRef | None:
    asm = row.asm
    keys: list[NormalisedIdentifier] = []
    ins = row.ins()
    status = row.code("identity_status")
    if ins is not None:
        if status and status != "VALI":
            asm.report(
                warning(
                    f"identity status {status} is not VALI: the INS is not carried",
                    row.location("identity_status"),
                    expression="Patient.identifier",
                )
            )
        else:
            if not status:
                asm.assume("identity status not given: INS used as sent", row.location("ins"))
            keys.append(ins)
    if row.text("resident_id"):
        keys.append(local_patient(row.text("resident_id"), asm.source))
    resource: dict[str, Any] = {"resourceType": "Patient"}
    extensions: list[dict[str, Any]] = []
    if status:
        extensions.append(
            {
                "url": IDENTITY_RELIABILITY,
                "extension": [
                    {
                        "url": "identityStatus",
                        "valueCoding": {"system": RELIABILITY_SYSTEM, "code": status},
                    }
                ],
            }
        )
    insee = row.text("birth_place")
    if insee or row.text("birth_city"):
        place: dict[str, Any] = {}
        if insee:
            place["extension"] = [
                {"url": INSEE_CODE, "valueCoding": {"system": INSEE_SYSTEM, "code": insee}}
            ]
        if row.text("birth_city"):
            place["city"] = row.text("birth_city")
        extensions.append({"url": BIRTH_PLACE, "valueAddress": place})
    if extensions:
        resource["extension"] = extensions
    if keys:
        resource["identifier"] = [k.to_fhir() for k in ordered(keys)]
    given = _given(row.text("given"))
    names = [
        human_name(
            row.text("birth_family"),
            given[:1],
            use="official",
            birth_given_names=" ".join(given) if given else None,
        )
    ]
    if row.text("usual_family") or row.text("usual_given"):
        names.append(
            human_name(
                row.text("usual_family") or row.text("birth_family"),
                [row.text("usual_given") or (given[0] if given else "")],
                use="usual",
            )
        )
    resource["name"] = [n for n in names if n]
    gender = row.code("gender")
    if gender:
        resource["gender"] = gender
    if row.text("birth_date"):
        try:
            born = french_date(row.text("birth_date")).isoformat()
            check_birth_date(born)
            resource["birthDate"] = born
        except NormalisationError as exc:
            row.refuse(exc, "birth_date")
    if row.text("phone"):
        resource["telecom"] = [{"system": "phone", "value": row.text("phone")}]
    address = {
        k: v
        for k, v in (
            ("line", [row.text("address")] if row.text("address") else None),
            ("city", row.text("city")),
            ("postalCode", row.text("postal_code")),
        )
        if v
    }
    if address:
        resource["address"] = [{"use": "home", **address}]
    doctor = row.professional("general_practitioner", "general_practitioner_name")
    if doctor is not None:
        resource["generalPractitioner"] = [{"reference": asm.practitioner(doctor)}]
    if not keys:
        return None
    return add_patient(asm, resource, ordered(keys), update=True, birth_place=insee or None)
