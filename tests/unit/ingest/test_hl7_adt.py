"""ADT messages → Patient, Encounter, merge instructions (real samples and French cases)."""

from __future__ import annotations

import pytest

from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.ingest.result import PatientKey
from gateway.normalise import Terminology

from .support import EHPAD, assert_valid_fhir, hl7_bytes, of_type, readable

FR_CORE = "https://hl7.fr/ig/fhir/core/"
LOCAL = "https://dmp-gateway.fr/fhir/sid/finess/750712184/patient"
INS = "urn:oid:1.2.250.1.213.1.4.8"
PI = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PI"}]}


def test_a01_admission_with_ins(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-adt-a01-admission-ins.hl7"), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert result.issues == ()
    assert_valid_fhir(result)
    assert [r["resourceType"] for r in readable(result)] == [
        "Patient",
        "Practitioner",
        "Organization",
        "PractitionerRole",
        "Encounter",
    ]
    (patient,) = of_type(result, "Patient")
    assert patient == {
        "resourceType": "Patient",
        "extension": [
            {
                "url": FR_CORE + "StructureDefinition/fr-core-identity-reliability",
                "extension": [
                    {
                        "url": "identityStatus",
                        "valueCoding": {
                            "system": FR_CORE + "CodeSystem/fr-core-cs-v2-0445",
                            "code": "VALI",
                        },
                    }
                ],
            },
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueAddress": {
                    "extension": [
                        {
                            "url": FR_CORE + "StructureDefinition/fr-core-address-insee-code",
                            "valueCoding": {
                                "system": "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM",
                                "code": "75056",
                            },
                        }
                    ],
                    "city": "Paris",
                    "postalCode": "75005",
                    "country": "FRA",
                },
            },
        ],
        "identifier": [
            {
                "use": "official",
                "type": {
                    "coding": [
                        {"system": FR_CORE + "CodeSystem/fr-core-cs-v2-0203", "code": "INS-NIR"}
                    ]
                },
                "system": INS,
                "value": "240037505612377",
            },
            {"use": "usual", "type": PI, "system": LOCAL, "value": "R0042"},
        ],
        "name": [
            {
                "extension": [
                    {
                        "url": FR_CORE
                        + "StructureDefinition/fr-core-patient-birth-list-given-name",
                        "valueString": "Marie-Hélène Jeanne",
                    }
                ],
                "use": "official",
                "family": "DUPONT",
                "given": ["Marie-Hélène"],
            },
            {"use": "usual", "family": "LEFÈVRE", "given": ["Marie-Hélène"]},
        ],
        "telecom": [
            {"system": "phone", "value": "0612345678", "use": "mobile"},
            {"system": "email", "value": "famille.lefevre@example.fr"},
        ],
        "gender": "female",
        "birthDate": "1940-03-12",
        "address": [
            {
                "use": "home",
                "line": ["12 rue des Lilas"],
                "city": "Paris",
                "postalCode": "75005",
                "country": "FRA",
            }
        ],
    }
    (encounter,) = of_type(result, "Encounter")
    assert encounter == {
        "resourceType": "Encounter",
        "identifier": [
            {
                "system": "https://dmp-gateway.fr/fhir/sid/finess/750712184/encounter",
                "value": "SEJ-2024-0042",
            }
        ],
        "status": "in-progress",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "IMP",
            "display": "inpatient encounter",
        },
        "subject": {"reference": "Patient/0"},
        "participant": [
            {
                "type": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "ATND",
                            }
                        ]
                    }
                ],
                "individual": {"reference": "PractitionerRole/0"},
            }
        ],
        "period": {"start": "2024-07-14T09:00:00+02:00"},  # summer: +02:00
        "serviceProvider": {"reference": "Organization/0"},
    }
    (practitioner,) = of_type(result, "Practitioner")
    assert [(i["system"], i["value"]) for i in practitioner["identifier"]] == [
        ("urn:oid:1.2.250.1.71.4.2.1", "810007654329"),
        ("https://rpps.esante.gouv.fr", "10007654329"),
    ]
    assert result.patient is not None
    assert result.patient.keys == (
        PatientKey(INS, "240037505612377", "ins-nir"),
        PatientKey(LOCAL, "R0042", "local"),
    )
    assert result.patient.update
    assert result.patient.traits.family == "DUPONT"
    assert result.patient.traits.birth_place == "75056"
    assert result.assumptions == (
        "no UTC offset given: Europe/Paris local time assumed (+02:00, summer time) [PV1-44]",
    )
    entry = result.entries[0]
    assert entry.method == "POST"
    assert entry.if_none_exist == f"identifier={INS}|240037505612377"
    assert result.header is not None
    assert result.header.idempotency_key == ("TITAN", "EHPAD TILLEULS", "TIL-ADT-000101")


def test_a01_real_sample(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("ADT01-28.hl7"), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    (patient,) = of_type(result, "Patient")
    assert patient == {
        "resourceType": "Patient",
        "identifier": [{"use": "usual", "type": PI, "system": LOCAL, "value": "PATID1234"}],
        "name": [{"family": "EVERYMAN", "given": ["ADAM", "A"], "suffix": ["III"]}],
        "telecom": [
            {"system": "phone", "value": "(555) 555-2004"},
            {"system": "phone", "value": "(555)555-2004"},
        ],
        "gender": "male",
        "birthDate": "1961-06-15",
        "address": [
            {
                "line": ["2222 HOME STREET"],
                "city": "GREENSBORO",
                "state": "NC",
                "postalCode": "27401-1020",
            }
        ],
    }
    # The US social security number has no OID authority: reported, not kept.
    assert [(str(i.location), i.severity) for i in result.issues] == [("PID-3[2]", "warning")]
    (encounter,) = of_type(result, "Encounter")
    assert encounter["status"] == "in-progress"
    assert encounter["class"]["code"] == "IMP"
    assert "identifier" not in encounter  # PV1-19 empty: no business identifier
    (role,) = of_type(result, "PractitionerRole")
    assert role["code"][0]["coding"][0]["code"] == "10"


def test_a04_registers_an_arrived_outpatient(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("ADT04-23.hl7"), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    (encounter,) = of_type(result, "Encounter")
    assert encounter["status"] == "arrived"
    assert encounter["class"]["code"] == "AMB"
    assert encounter["period"] == {"start": "2001-01-01T00:00:00+07:00"}
    (patient,) = of_type(result, "Patient")
    assert patient["identifier"][0]["value"] == "123456789"
    assert patient["name"] == [{"family": "BROS", "given": ["MARIO"]}]
    assert patient["birthDate"] == "1985-01-01"


@pytest.mark.parametrize("name", ["ADT-A08-02.hl7", "ADT-A28-02.hl7", "ADT-A31-02.hl7"])
def test_updates_produce_the_patient_only(terminology: Terminology, name: str) -> None:
    result = parse_hl7v2(hl7_bytes(name), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    assert [e.resource_type for e in result.entries] == ["Patient"]
    assert result.patient is not None
    assert result.patient.update
    (patient,) = of_type(result, "Patient")
    assert patient["identifier"][0] == {
        "use": "usual",
        "type": PI,
        "system": LOCAL,
        "value": "PATID1234",
    }
    assert patient["name"][0]["family"] == "EVERYMAN"
    assert patient["birthDate"] == "1988-08-18"


def test_a08_latin1_with_lf_separators(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-adt-a08-latin1-lf.hl7"), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert result.header is not None
    assert result.header.charset == "latin-1"
    (patient,) = of_type(result, "Patient")
    assert patient["name"][0]["extension"][0]["valueString"] == "Lucienne Thérèse"
    assert patient["address"][0]["line"] == ["8 allée des Cèdres"]


def test_a40_merge_is_an_instruction_not_an_overwrite(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-adt-a40-fusion.hl7"), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    (merge,) = result.merges
    assert merge.surviving == (
        PatientKey(INS, "152053306308746", "ins-nir"),
        PatientKey(LOCAL, "R0050", "local"),
    )
    assert merge.retired == (PatientKey(LOCAL, "R0099", "local"),)
    assert merge.location == "MRG"
    # Only the surviving patient is written; nothing touches the retired one here.
    assert [e.resource_type for e in result.entries] == ["Patient"]
    assert all("link" not in e.resource for e in result.entries)


def test_a40_real_sample_with_two_pairs(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("ADT-A40-02.hl7"), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert [(m.surviving[0].value, m.retired[0].value) for m in result.merges] == [
        ("12345", "56789"),
        ("145", "569"),
    ]


def test_a40_without_mrg_is_an_error(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-adt-a40-fusion.hl7").replace(b"MRG|R0099^^^TILLEULS^PI\r", b"")
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AE"
    assert result.entries == ()
    assert result.merges == ()
    assert result.errors[0].hl7_error == "100"


def test_invalid_ins_key_is_a_located_error(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-adt-a01-admission-ins.hl7").replace(
        b"240037505612377", b"240037505612300"
    )
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AE"
    assert result.entries == ()
    (issue,) = result.errors
    assert str(issue.location) == "PID-3.1"
    assert issue.expression == ("Patient.identifier",)
    assert issue.hl7_error == "102"
    assert issue.gateway_code == "GW-4106"
    assert "240037505612300" in issue.diagnostics


def test_a_birth_date_in_the_future_is_a_located_error(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-adt-a01-admission-ins.hl7").replace(b"|19400312|", b"|29400312|")
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AE"
    (issue,) = result.errors
    assert str(issue.location) == "PID-7"
    assert issue.expression == ("Patient.birthDate",)
    assert issue.gateway_code == "GW-4104" and "2940-03-12 is in the future" in issue.diagnostics


def test_ins_dropped_when_identity_not_validated(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-adt-a01-admission-ins.hl7").replace(b"|VALI", b"|PROV")
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AA"
    assert result.patient is not None
    assert [k.kind for k in result.patient.keys] == ["local"]
    assert any("not VALI" in i.diagnostics for i in result.issues)


def test_no_patient_identifier_is_an_error(terminology: Terminology) -> None:
    payload = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A08|X1|P|2.5\rPID|1||^^^X^PI||DOE^JOHN||19500101|M"
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AE"
    (issue,) = result.errors
    assert str(issue.location) == "PID-3"
    assert issue.hl7_error == "101"
