"""RDS^O13, RDE^O11, RAS^O17 → MedicationDispense, MedicationRequest, MedicationAdministration."""

from __future__ import annotations

from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.normalise import Terminology

from .support import CABINET, EHPAD, PHARMACY, assert_valid_fhir, hl7_bytes, of_type, readable

UCUM = "http://unitsofmeasure.org"
CIP13 = "urn:oid:1.2.250.1.213.2.3.2"
ORALE = {
    "coding": [
        {"system": "http://standardterms.edqm.eu", "code": "20053000", "display": "Voie orale"}
    ],
    "text": "Orale",
}
PHARMACIST = {
    "coding": [
        {
            "system": "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante",
            "code": "21",
            "display": "Pharmacien",
        }
    ]
}


def test_dispensation_with_cip13_and_pharmacist(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-rds-o13-dispensation-cip13.hl7"), PHARMACY, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    assert [r["resourceType"] for r in readable(result)] == [
        "Patient",
        "Medication",
        "Practitioner",
        "Organization",
        "PractitionerRole",
        "MedicationDispense",
    ]
    (dispense,) = of_type(result, "MedicationDispense")
    assert dispense == {
        "resourceType": "MedicationDispense",
        "identifier": [
            {
                "system": "https://dmp-gateway.fr/fhir/sid/finess/920012341/dispense",
                "value": "DISP-7781/1",
            }
        ],
        "status": "completed",
        "medicationReference": {"reference": "Medication/0"},
        "subject": {"reference": "Patient/0"},
        "performer": [{"actor": {"reference": "PractitionerRole/0"}}],
        "authorizingPrescription": [
            {
                "type": "MedicationRequest",
                "identifier": {
                    "system": "https://dmp-gateway.fr/fhir/sid/finess/920012341/order",
                    "value": "ORD-2024-5512",
                },
            }
        ],
        "quantity": {"value": 2, "unit": "boîte"},
        "whenHandedOver": "2024-07-14T10:30:00+02:00",
        "note": [{"text": "Délivrance totale"}],
        "dosageInstruction": [
            {
                "text": "1 comprimé matin et soir",
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "unit": "comprimé",
                            "system": UCUM,
                            "code": "{tbl}",
                        }
                    }
                ],
                "route": ORALE,
            }
        ],
    }
    (medication,) = of_type(result, "Medication")
    assert medication == {
        "resourceType": "Medication",
        "code": {
            "coding": [
                {
                    "system": CIP13,
                    "code": "3400933516390",
                    "display": "PARACETAMOL MYLAN 500 mg, comprimé",
                }
            ],
            "text": "PARACETAMOL MYLAN 500 mg, comprimé",
        },
        "form": {
            "coding": [
                {
                    "system": "http://standardterms.edqm.eu",
                    "code": "10219000",
                    "display": "Comprimé",
                }
            ],
            "text": "Comprimé",
        },
    }
    (role,) = of_type(result, "PractitionerRole")
    assert role["code"] == [PHARMACIST]
    assert role["identifier"][0]["value"] == "810001234565/21"
    (practitioner,) = of_type(result, "Practitioner")
    assert practitioner["identifier"][0]["value"] == "810001234565"  # idNat_PS = 8 + RPPS
    assert result.author == result.entries[4].full_url
    by_type = {e.resource_type: e for e in result.entries}
    assert by_type["Medication"].if_none_exist == f"code={CIP13}|3400933516390"
    assert (
        by_type["MedicationDispense"].if_none_exist
        == "identifier=https://dmp-gateway.fr/fhir/sid/finess/920012341/dispense|DISP-7781%2F1"
    )
    # The box is not a UCUM unit: kept as text, with a warning located at RXD-4.
    assert [(str(i.location), i.severity) for i in result.issues] == [("RXD-4", "warning")]


def test_dispensation_real_sample(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("RDS-O13-02.hl7"), PHARMACY, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    dispenses = of_type(result, "MedicationDispense")
    assert len(dispenses) == 2
    first = dispenses[0]
    assert first["quantity"] == {"value": 10, "unit": "Tablet", "system": UCUM, "code": "{tbl}"}
    assert first["whenHandedOver"] == "2020-12-12"
    assert first["dosageInstruction"][0]["route"]["coding"][0]["code"] == "20053000"
    medications = of_type(result, "Medication")
    assert [m["code"]["coding"][0]["system"] for m in medications] == [
        "http://hl7.org/fhir/sid/ndc",
        "http://www.nlm.nih.gov/research/umls/rxnorm",
    ]
    assert all(r["code"] == [PHARMACIST] for r in of_type(result, "PractitionerRole"))


def test_prescription_with_cip13_and_atc(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-rde-o11-prescription.hl7"), CABINET, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    (request,) = of_type(result, "MedicationRequest")
    assert request == {
        "resourceType": "MedicationRequest",
        "identifier": [
            {
                "system": "https://dmp-gateway.fr/fhir/sid/finess/130004567/order",
                "value": "PRESC-2024-0021",
            }
        ],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {"system": CIP13, "code": "3400930000007", "display": "ZOPICLONE 7,5 mg cp"},
                {"system": "http://www.whocc.no/atc", "code": "N05CF01", "display": "zopiclone"},
            ],
            "text": "ZOPICLONE 7,5 mg cp",
        },
        "subject": {"reference": "Patient/0"},
        "authoredOn": "2024-01-10T09:15:00+01:00",  # winter: +01:00
        "requester": {"reference": "PractitionerRole/0"},
        "dosageInstruction": [
            {
                "text": "1 comprimé le soir au coucher",
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "unit": "comprimé",
                            "system": UCUM,
                            "code": "{tbl}",
                        }
                    }
                ],
                "timing": {"code": {"text": "au coucher"}},
                "route": ORALE,
            }
        ],
        "dispenseRequest": {
            "quantity": {"value": 14, "unit": "comprimé", "system": UCUM, "code": "{tbl}"},
            "numberOfRepeatsAllowed": 0,
        },
    }


def test_prescription_real_sample(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("RDE-O11-02.hl7"), CABINET, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    requests = of_type(result, "MedicationRequest")
    assert [r["identifier"][0]["value"] for r in requests] == ["1163422591", "1422591"]
    assert requests[0]["authoredOn"] == "2019-11-04T06:27:26+02:15"
    assert requests[0]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] == {
        "value": 5,
        "unit": "mg/hr",
        "system": UCUM,
        "code": "mg/h",
    }


def test_administrations_given_and_refused(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-ras-o17-administration-ucd.hl7"), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    given, refused = of_type(result, "MedicationAdministration")
    ucd = {
        "coding": [
            {
                "system": "http://data.esante.gouv.fr/ansm/medicament/UCD",
                "code": "3400891996128",
                "display": "DOLIPRANE 500MG GELU",
            }
        ],
        "text": "DOLIPRANE 500MG GELU",
    }
    assert given == {
        "resourceType": "MedicationAdministration",
        "identifier": given["identifier"],
        "status": "completed",
        "medicationCodeableConcept": ucd,
        "subject": {"reference": "Patient/0"},
        "effectiveDateTime": "2024-07-14T08:00:00+02:00",
        "performer": [{"actor": {"reference": "PractitionerRole/0"}}],
        "request": {
            "type": "MedicationRequest",
            "identifier": {
                "system": "https://dmp-gateway.fr/fhir/sid/finess/750712184/order",
                "value": "PRESC-2024-0133",
            },
        },
        "dosage": {
            "route": ORALE,
            "dose": {"value": 1, "unit": "gélule", "system": UCUM, "code": "{capsule}"},
        },
    }
    assert given["identifier"][0]["system"].endswith("/750712184/administration")
    assert given["identifier"][0]["value"].startswith("nk-")
    assert refused["status"] == "not-done"
    assert refused["statusReason"][0]["text"] == "Refus du résident"
    (role,) = of_type(result, "PractitionerRole")
    assert role["code"][0]["coding"][0]["code"] == "60"  # infirmier


def test_bad_cip13_key_is_a_located_error(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-rds-o13-dispensation-cip13.hl7").replace(
        b"3400933516390", b"3400933516391"
    )
    result = parse_hl7v2(payload, PHARMACY, terminology)
    assert result.ack_code == "AE"
    assert result.entries == ()
    locations = {str(i.location) for i in result.errors}
    assert locations == {"RXD-2.1"}  # the dispensed product; RXE-2 only gives the dosage
    assert {i.hl7_error for i in result.errors} == {"103"}


def test_administration_without_time_is_an_error(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-ras-o17-administration-ucd.hl7").replace(b"|20240714120000|", b"||")
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AE"
    assert [str(i.location) for i in result.errors] == ["RXA[2]-3"]
