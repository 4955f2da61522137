"""MDM^T02 → DocumentReference + Binary."""

from __future__ import annotations

import base64
import hashlib

from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.normalise import Terminology

from .support import HOSPITAL, assert_valid_fhir, hl7_bytes, of_type

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_pdf_report(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-mdm-t02-compte-rendu-pdf.hl7"), HOSPITAL, terminology)
    assert result.ack_code == "AA"
    assert result.issues == ()
    assert_valid_fhir(result)
    (binary,) = of_type(result, "Binary")
    assert binary == {
        "resourceType": "Binary",
        "contentType": "application/pdf",
        "securityContext": {"reference": "DocumentReference/0"},
        "data": base64.b64encode(PDF).decode(),
    }
    (document,) = of_type(result, "DocumentReference")
    assert document == {
        "resourceType": "DocumentReference",
        "masterIdentifier": {
            "system": "https://dmp-gateway.fr/fhir/sid/finess/690001235/document",
            "value": "CR-2024-88001",
        },
        "status": "current",
        "docStatus": "final",
        "type": {
            "coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument",
                        "code": "10",
                        "display": "Compte rendu",
                    }
                ]
            }
        ],
        "subject": {"reference": "Patient/0"},
        "date": "2024-05-20T14:15:00+02:00",
        "author": [{"reference": "PractitionerRole/0"}],
        "custodian": {"reference": "Organization/0"},
        "securityLabel": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                        "code": "N",
                    }
                ]
            }
        ],
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "url": "Binary/0",
                    "size": len(PDF),
                    "hash": base64.b64encode(
                        hashlib.sha1(PDF, usedforsecurity=False).digest()
                    ).decode(),
                }
            }
        ],
    }
    assert result.author == next(
        e.full_url for e in result.entries if e.resource_type == "PractitionerRole"
    )


def test_text_report_real_sample(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("MDM-T02-02.hl7"), HOSPITAL, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    (binary,) = of_type(result, "Binary")
    assert binary["contentType"] == "text/plain; charset=utf-8"
    text = base64.b64decode(binary["data"]).decode()
    assert text.startswith(
        "Toilet cylinder crackers model step-mother visor opening communication\n"
    )
    (document,) = of_type(result, "DocumentReference")
    assert document["masterIdentifier"] == {
        "system": "urn:ietf:rfc:3986",
        "value": "urn:oid:1.2.840.317.5947431.51.20080131160038",
    }
    assert document["type"]["coding"][0]["code"] == "18748-4"  # TXA-2 DI
    assert document["date"] == "2008-01-31T16:00:00+02:15"


def test_empty_embedded_document_is_an_error(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("MDM-T02-01.hl7"), HOSPITAL, terminology)
    assert result.ack_code == "AE"
    (issue,) = result.errors
    assert str(issue.location) == "OBX[2]-5.5"
    assert issue.hl7_error == "101"


def test_invalid_base64_is_an_error(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-mdm-t02-compte-rendu-pdf.hl7").replace(
        b"^Base64^JVBER", b"^Base64^!!!!"
    )
    result = parse_hl7v2(payload, HOSPITAL, terminology)
    assert result.ack_code == "AE"
    assert result.errors[0].expression == ("Binary.data",)
