"""CSV kinds: residents, vitals, administrations, care-notes (exact resources, variants)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gateway.ingest.csv import load_mappings, parse_csv
from gateway.ingest.csv.mapping import CsvMapping
from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.ingest.result import CsvParseResult, PatientKey
from gateway.normalise import Terminology

from .support import CSV, EHPAD, assert_valid_fhir, hl7_bytes, of_type, readable

MAPPINGS: dict[str, CsvMapping] = load_mappings()
LOCAL = "https://dmp-gateway.fr/fhir/sid/finess/750712184/patient"
INS = "urn:oid:1.2.250.1.213.1.4.8"
UCUM = "http://unitsofmeasure.org"
R0042 = f"Patient?identifier={LOCAL}|R0042"


def parse(
    name: str, kind: str, terminology: Terminology, data: bytes | None = None
) -> CsvParseResult:
    result = parse_csv(
        data if data is not None else (CSV / name).read_bytes(), MAPPINGS[kind], EHPAD, terminology
    )
    for row in result.accepted:
        assert_valid_fhir(row.result)
    assert result.submitted == len(result.accepted) + len(result.rejected)
    return result


def test_residents(terminology: Terminology) -> None:
    result = parse("residents.csv", "residents", terminology)
    assert (result.encoding, result.delimiter) == ("utf-8", ";")
    assert len(result.accepted) == 6
    assert result.rejected == ()
    first = result.accepted[0]
    assert first.line == 2
    assert first.raw.startswith("R0042;DUPONT;LEFÈVRE;")
    (patient,) = of_type(first.result, "Patient")
    assert patient == {
        "resourceType": "Patient",
        "extension": [
            {
                "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability",
                "extension": [
                    {
                        "url": "identityStatus",
                        "valueCoding": {
                            "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445",
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
                            "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
                            "valueCoding": {
                                "system": "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM",
                                "code": "75056",
                            },
                        }
                    ],
                    "city": "Paris",
                },
            },
        ],
        "identifier": [
            {
                "use": "official",
                "type": {
                    "coding": [
                        {
                            "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                            "code": "INS-NIR",
                        }
                    ]
                },
                "system": INS,
                "value": "240037505612377",
            },
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PI"}
                    ]
                },
                "system": LOCAL,
                "value": "R0042",
            },
        ],
        "name": [
            {
                "extension": [
                    {
                        "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name",
                        "valueString": "Marie-Hélène Jeanne",
                    }
                ],
                "use": "official",
                "family": "DUPONT",
                "given": ["Marie-Hélène"],
            },
            {"use": "usual", "family": "LEFÈVRE", "given": ["Marie-Hélène"]},
        ],
        "gender": "female",
        "birthDate": "1940-03-12",
        "generalPractitioner": [{"reference": "Practitioner/0"}],
    }
    assert first.result.patient is not None
    assert first.result.patient.update
    assert first.result.patient.keys == (
        PatientKey(INS, "240037505612377", "ins-nir"),
        PatientKey(LOCAL, "R0042", "local"),
    )
    provisional = result.accepted[5].result
    assert provisional.patient is not None
    assert [k.kind for k in provisional.patient.keys] == ["local"]  # PROV: no INS
    assert of_type(provisional, "Patient")[0]["gender"] == "male"  # "H"
    assert [str(i.location) for i in result.issues] == ["line 1"]  # 'Chambre' ignored


def test_residents_cp1252_export_gives_the_same_identity(terminology: Terminology) -> None:
    result = parse("residents-cp1252.csv", "residents", terminology)
    assert result.encoding == "cp1252"
    assert "Windows-1252" in result.assumptions[0]
    (patient,) = of_type(result.accepted[0].result, "Patient")
    assert patient["identifier"][0]["value"] == "240037505612377"  # spaces removed
    assert patient["name"][1] == {"use": "usual", "family": "LEFÈVRE", "given": ["Marie-Hélène"]}
    assert patient["gender"] == "female"  # "Femme"
    (third,) = of_type(result.accepted[2].result, "Patient")
    assert third["name"][0]["given"] == ["Hélène"]
    assert third["name"][0]["extension"][0]["valueString"] == "Hélène Françoise"


def _observations(result: CsvParseResult) -> list[dict[str, Any]]:
    return [o for row in result.accepted for o in of_type(row.result, "Observation")]


def test_vitals_long_layout(terminology: Terminology) -> None:
    result = parse("vitals-long.csv", "vitals", terminology)
    assert result.delimiter == ","
    assert len(result.accepted) == 7
    observations = _observations(result)
    bp, pulse, temperature, weight, spo2, glucose, pain = observations
    assert bp["subject"] == {"reference": R0042}
    assert bp["effectiveDateTime"] == "2024-01-15T08:00:00+01:00"  # winter
    assert [c["valueQuantity"]["value"] for c in bp["component"]] == [130, 80]
    assert pulse["valueQuantity"] == {"value": 72, "unit": "bpm", "system": UCUM, "code": "/min"}
    assert temperature["valueQuantity"] == {
        "value": 37.8,
        "unit": "°C",
        "system": UCUM,
        "code": "Cel",
    }
    assert (weight["valueQuantity"]["value"], weight["valueQuantity"]["code"]) == (69.85, "kg")
    assert spo2["effectiveDateTime"] == "2024-07-15T08:15:00+02:00"  # summer
    assert spo2["meta"]["profile"] == [
        "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-observation-saturation-oxygen"
    ]
    assert glucose["valueQuantity"]["value"] == 105.0
    assert pain["valueQuantity"]["code"] == "{score}"
    assert readable(result.accepted[0].result)[0]["resourceType"] == "Practitioner"
    assert all(not row.result.patient.in_bundle for row in result.accepted if row.result.patient)


def test_vitals_wide_layout_cp1252(terminology: Terminology) -> None:
    result = parse("vitals-wide-cp1252.csv", "vitals", terminology)
    assert result.encoding == "cp1252"
    assert [len(of_type(r.result, "Observation")) for r in result.accepted] == [7, 5, 3]
    first = {
        o["code"]["coding"][0]["code"]: o for o in of_type(result.accepted[0].result, "Observation")
    }
    assert first["29463-7"]["valueQuantity"] == {
        "value": 69.8,
        "unit": "kg",
        "system": UCUM,
        "code": "kg",
    }
    assert first["8310-5"]["valueQuantity"]["value"] == 37.8
    assert first["8867-4"]["valueQuantity"]["code"] == "/min"
    assert first["2339-0"]["valueQuantity"]["value"] == 105.0
    assert first["85354-9"]["note"] == [{"text": "Résidente calme"}]
    night = of_type(result.accepted[2].result, "Observation")[0]
    # 27 October 2024, 02:30 happens twice: the first (summer) occurrence is assumed.
    assert night["effectiveDateTime"] == "2024-10-27T02:30:00+02:00"
    assert any("happens twice" in a for a in result.accepted[2].result.assumptions)


@pytest.mark.parametrize(
    ("encoding", "bom", "separator", "eol"),
    [
        ("utf-8", b"", ";", "\r\n"),
        ("utf-8", b"\xef\xbb\xbf", ";", "\n"),
        ("cp1252", b"", ";", "\r\n"),
        ("latin-1", b"", ";", "\r"),
        ("utf-8", b"\xef\xbb\xbf", ",", "\r\n"),
        ("utf-16-le", b"\xff\xfe", "\t", "\r\n"),
    ],
)
def test_vitals_variants_give_the_same_observations(
    terminology: Terminology, encoding: str, bom: bytes, separator: str, eol: str
) -> None:
    rows = [
        ["N° Résident", "DATE", "heure", "Paramètre", "VALEUR", "Unité"],
        ["R0042", "15/01/2024", "08:00", "Température", "37,8", "°C"],
        ["R0042", "15/01/2024", "08:00", "Glycémie", "1,05", "g/L"],
    ]

    def quote(cell: str) -> str:
        return f'"{cell}"' if separator in cell else cell

    text = eol.join(separator.join(quote(c) for c in row) for row in rows) + eol
    result = parse("", "vitals", terminology, bom + text.encode(encoding))
    assert result.delimiter == separator
    assert len(result.accepted) == 2
    temperature, glucose = _observations(result)
    assert temperature["valueQuantity"]["value"] == 37.8
    assert temperature["effectiveDateTime"] == "2024-01-15T08:00:00+01:00"
    assert glucose["valueQuantity"]["value"] == 105.0


def test_vitals_and_hl7_oru_share_identifiers(terminology: Terminology) -> None:
    """The same measurement sent by HL7 and by CSV has the same business identifier."""
    csv_ids = {
        o["code"]["coding"][0]["code"]: o["identifier"][0]
        for o in _observations(parse("vitals-long.csv", "vitals", terminology))[:4]
    }
    oru = parse_hl7v2(hl7_bytes("fr-oru-r01-constantes-ehpad.hl7"), EHPAD, terminology)
    hl7_ids = {
        o["code"]["coding"][0]["code"]: o["identifier"][0] for o in of_type(oru, "Observation")[:4]
    }
    assert csv_ids == hl7_ids
    assert set(csv_ids) == {"85354-9", "8867-4", "8310-5", "29463-7"}


def test_administrations(terminology: Terminology) -> None:
    result = parse("administrations.csv", "administrations", terminology)
    assert len(result.accepted) == 5
    given, refused, cip, atc, label_only = (
        of_type(r.result, "MedicationAdministration")[0] for r in result.accepted
    )
    assert given == {
        "resourceType": "MedicationAdministration",
        "identifier": given["identifier"],
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://data.esante.gouv.fr/ansm/medicament/UCD",
                    "code": "3400891996128",
                    "display": "DOLIPRANE 500MG GELU",
                }
            ],
            "text": "DOLIPRANE 500MG GELU",
        },
        "subject": {"reference": R0042},
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
            "route": {
                "coding": [
                    {
                        "system": "http://standardterms.edqm.eu",
                        "code": "20053000",
                        "display": "Voie orale",
                    }
                ],
                "text": "Per os",
            },
            "dose": {"value": 1, "unit": "gélule", "system": UCUM, "code": "{capsule}"},
        },
    }
    assert refused["status"] == "not-done"
    assert refused["statusReason"] == [{"text": "Refus du résident"}]
    assert cip["medicationCodeableConcept"]["coding"][0]["system"] == "urn:oid:1.2.250.1.213.2.3.2"
    assert cip["dosage"]["dose"] == {"value": 2, "unit": "cp", "system": UCUM, "code": "{tbl}"}
    assert atc["medicationCodeableConcept"]["coding"][0] == {
        "system": "http://www.whocc.no/atc",
        "code": "N05CF01",
        "display": "Zopiclone 7,5 mg",
    }
    assert atc["dosage"]["dose"]["value"] == 0.5
    assert label_only["medicationCodeableConcept"] == {"text": "Crème hydratante"}
    role = of_type(result.accepted[0].result, "PractitionerRole")[0]
    assert role["code"][0]["coding"][0]["code"] == "60"


def test_administrations_and_hl7_ras_share_identifiers(terminology: Terminology) -> None:
    csv_result = parse("administrations.csv", "administrations", terminology)
    csv_ids = [
        of_type(r.result, "MedicationAdministration")[0]["identifier"]
        for r in csv_result.accepted[:2]
    ]
    ras = parse_hl7v2(hl7_bytes("fr-ras-o17-administration-ucd.hl7"), EHPAD, terminology)
    hl7_ids = [a["identifier"] for a in of_type(ras, "MedicationAdministration")]
    assert csv_ids == hl7_ids


def test_care_notes(terminology: Terminology) -> None:
    result = parse("care-notes.csv", "care-notes", terminology)
    assert [r.line for r in result.accepted] == [2, 3, 5]  # line 3's note spans two lines
    second = result.accepted[1]
    (binary,) = of_type(second.result, "Binary")
    assert (
        base64.b64decode(binary["data"]).decode()
        == "Repas pris en totalité.\nBoit peu : proposer de l'eau gélifiée."
    )
    (document,) = of_type(second.result, "DocumentReference")
    assert document["type"]["coding"][0]["code"] == "11506-3"
    assert document["category"][0]["coding"][0]["code"] == "10"
    assert document["date"] == "2024-01-15T14:20:00+01:00"
    assert document["description"] == "Alimentation"
    assert document["content"][0]["attachment"]["url"] == "Binary/0"
    first_text = base64.b64decode(of_type(result.accepted[0].result, "Binary")[0]["data"]).decode()
    assert "rassurée, s'est rendormie" in first_text  # the ';' inside quotes stayed in the text


def test_missing_required_column_rejects_every_row(terminology: Terminology) -> None:
    data = "N° résident;Paramètre;Valeur\r\nR0042;Pouls;72\r\nR0043;Pouls;80\r\n".encode()
    result = parse("", "vitals", terminology, data)
    assert result.accepted == ()
    assert [r.line for r in result.rejected] == [2, 3]
    assert result.rejected[0].raw == "R0042;Pouls;72\r\n"
    assert result.rejected[0].issues[0].gateway_code == "GW-4109"
    assert result.rejected[0].issues[0].expression == ("Observation.effectiveDateTime",)


def test_unknown_measurement_is_located_at_the_parameter_column(
    terminology: Terminology,
) -> None:
    """The label 'Foo' is in the parameter column, not in the value column."""
    data = (
        "Num. résident,Date,Heure,Paramètre,Valeur,Unité\r\n"
        "R0042,16/01/2024,08:00,Foo,70,bpm\r\n"
        "R0042,16/01/2024,08:00,Pouls,abc,bpm\r\n"
    ).encode()
    result = parse("", "vitals", terminology, data)
    assert [r.line for r in result.rejected] == [2, 3]
    (unknown,) = result.rejected[0].issues
    assert unknown.gateway_code == "GW-4105"
    assert "unknown measurement 'Foo'" in unknown.diagnostics
    assert str(unknown.location) == "line 2, column 'Paramètre'"
    assert unknown.expression == ("Observation.code",)
    # A bad value is still located at the value column.
    assert [str(i.location) for i in result.rejected[1].issues] == ["line 3, column 'Valeur'"]


def test_a_vital_sign_no_person_can_have_rejects_its_row(terminology: Terminology) -> None:
    """98 °C (a Fahrenheit reading in the Celsius column) and a weight of -5 kg are
    refused at their value cell; the plausible row of the same file is accepted."""
    data = (
        "Num. résident,Date,Heure,Paramètre,Valeur,Unité\r\n"
        "R0042,16/01/2024,08:00,Température,98,°C\r\n"
        "R0042,16/01/2024,08:00,Poids,-5,kg\r\n"
        'R0042,16/01/2024,08:00,Température,"38,2",°C\r\n'
    ).encode()
    result = parse("", "vitals", terminology, data)
    assert [r.line for r in result.rejected] == [2, 3]
    assert [r.line for r in result.accepted] == [4]
    hot, light = (r.issues[0] for r in result.rejected)
    assert hot.gateway_code == light.gateway_code == "GW-4104"
    assert "body temperature 98 Cel is outside what can be measured" in hot.diagnostics
    assert str(hot.location) == "line 2, column 'Valeur'"
    assert "body weight -5 kg" in light.diagnostics


def test_a_resident_born_in_the_future_is_rejected_at_the_cell(terminology: Terminology) -> None:
    data = (
        "N° résident;Nom de naissance;Prénoms;Date de naissance;Sexe\r\n"
        "R0777;MARTIN;Paul;12/03/2985;M\r\n"
    ).encode()
    result = parse("", "residents", terminology, data)
    (row,) = result.rejected
    (issue,) = row.issues
    assert issue.gateway_code == "GW-4104" and "2985-03-12 is in the future" in issue.diagnostics
    assert str(issue.location) == "line 2, column 'Date de naissance'"


def test_an_open_quote_loses_no_row_behind_it(terminology: Terminology) -> None:
    """A quote left open would make the rest of the file one cell: its line alone is
    rejected, naming the quote, and the rows behind it are read as rows. A note that
    spans lines inside a closed quote is still one record."""
    data = (
        "Num. résident,Date,Heure,Paramètre,Valeur,Unité,Commentaire\r\n"
        'R0042,16/01/2024,08:00,Poids,"70,5,kg,\r\n'
        "R0042,16/01/2024,08:10,Pouls,72,bpm,\r\n"
        'R0042,16/01/2024,08:20,Pouls,74,bpm,"agitée\r\nla nuit, ""douleur"""\r\n'
        "R0042,16/01/2024,08:30,Pouls,1e3,bpm,\r\n"
    ).encode()
    result = parse("", "vitals", terminology, data)
    assert [r.line for r in result.accepted] == [3, 4]
    assert [r.line for r in result.rejected] == [2, 6]
    quote, exponent = (r.issues[0] for r in result.rejected)
    assert result.rejected[0].raw == 'R0042,16/01/2024,08:00,Poids,"70,5,kg,\r\n'
    assert quote.gateway_code == "GW-4108" and "a quote opened in this line" in quote.diagnostics
    # 1e3 is a number (an exponent), not 1 in the unit 'e3'.
    assert "heart rate 1000 /min is outside" in exponent.diagnostics
