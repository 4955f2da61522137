"""ORU^R01 → Observations (vital signs in LOINC, UCUM, Paris time) and DiagnosticReports."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.normalise import Terminology
from gateway.normalise.units import ORIGINAL_QUANTITY

from .support import EHPAD, HOSPITAL, assert_valid_fhir, hl7_bytes, of_type

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
PROFILE = "https://hl7.fr/ig/fhir/core/StructureDefinition/"
LOCAL_CS = "https://dmp-gateway.fr/fhir/sid/finess/750712184/cs/L"


def _by_loinc(observations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["code"]["coding"][0]["code"]: o for o in observations}


def test_ehpad_vitals_to_loinc_ucum_and_fr_core(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("fr-oru-r01-constantes-ehpad.hl7"), EHPAD, terminology)
    assert result.ack_code == "AA"
    assert result.issues == ()
    assert_valid_fhir(result)
    observations = of_type(result, "Observation")
    assert len(observations) == 8
    by_code = _by_loinc(observations[:7])
    assert set(by_code) == {"85354-9", "8867-4", "8310-5", "29463-7", "2708-6", "2339-0", "72514-3"}
    bp = by_code["85354-9"]
    assert bp == {
        "resourceType": "Observation",
        "meta": {"profile": [PROFILE + "fr-core-observation-bp"]},
        "identifier": bp["identifier"],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": LOINC,
                    "code": "85354-9",
                    "display": "Blood pressure panel with all children optional",
                },
                {"system": LOCAL_CS, "code": "TA", "display": "Tension artérielle"},
            ],
            "text": "Tension artérielle",
        },
        "subject": {"reference": "Patient/0"},
        "effectiveDateTime": "2024-01-15T08:00:00+01:00",  # winter: +01:00
        "performer": [{"reference": "PractitionerRole/0"}],
        "component": [
            {
                "code": {
                    "coding": [
                        {"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}
                    ]
                },
                "valueQuantity": {
                    "extension": [
                        {
                            "url": ORIGINAL_QUANTITY,
                            "valueQuantity": {
                                "value": 13,
                                "unit": "cmHg",
                                "system": UCUM,
                                "code": "cm[Hg]",
                            },
                        }
                    ],
                    "value": 130,
                    "unit": "mm[Hg]",
                    "system": UCUM,
                    "code": "mm[Hg]",
                },
            },
            {
                "code": {
                    "coding": [
                        {"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}
                    ]
                },
                "valueQuantity": {
                    "extension": [
                        {
                            "url": ORIGINAL_QUANTITY,
                            "valueQuantity": {
                                "value": 8,
                                "unit": "cmHg",
                                "system": UCUM,
                                "code": "cm[Hg]",
                            },
                        }
                    ],
                    "value": 80,
                    "unit": "mm[Hg]",
                    "system": UCUM,
                    "code": "mm[Hg]",
                },
            },
        ],
    }
    assert bp["identifier"][0]["value"].startswith("nk-")  # natural key: cross-channel dedup
    assert by_code["8867-4"]["valueQuantity"] == {
        "value": 72,
        "unit": "bpm",
        "system": UCUM,
        "code": "/min",
    }
    assert by_code["8867-4"]["meta"] == {"profile": [PROFILE + "fr-core-observation-heartrate"]}
    assert by_code["8310-5"]["valueQuantity"] == {
        "value": 37.8,
        "unit": "°C",
        "system": UCUM,
        "code": "Cel",
    }
    weight = by_code["29463-7"]["valueQuantity"]
    assert (weight["value"], weight["code"]) == (69.85, "kg")
    assert weight["extension"][0]["valueQuantity"] == {
        "value": 154,
        "unit": "lb",
        "system": UCUM,
        "code": "[lb_av]",
    }
    spo2 = by_code["2708-6"]
    assert [c["code"] for c in spo2["code"]["coding"]] == ["2708-6", "59408-5", "SPO2"]
    assert spo2["meta"] == {"profile": [PROFILE + "fr-core-observation-saturation-oxygen"]}
    glucose = by_code["2339-0"]
    assert "meta" not in glucose  # no FR Core profile for capillary glucose
    assert (glucose["valueQuantity"]["value"], glucose["valueQuantity"]["code"]) == (105.0, "mg/dL")
    assert by_code["72514-3"]["valueQuantity"] == {
        "value": 3,
        "unit": "{score}",
        "system": UCUM,
        "code": "{score}",
    }
    fahrenheit = observations[7]
    assert fahrenheit["effectiveDateTime"] == "2024-01-15T08:30:00+01:00"
    assert (fahrenheit["valueQuantity"]["value"], fahrenheit["valueQuantity"]["code"]) == (
        37.5,
        "Cel",
    )
    (report,) = of_type(result, "DiagnosticReport")
    assert report["result"] == [{"reference": f"Observation/{n}"} for n in range(8)]
    assert report["effectiveDateTime"] == "2024-01-15T08:00:00+01:00"
    assert any("cmHg" in a for a in result.assumptions)
    assert any("154 [lb_av] converted to 69.85 kg" in a for a in result.assumptions)


def test_same_vitals_in_summer_get_plus_two(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-oru-r01-constantes-ehpad.hl7").replace(b"20240115", b"20240715")
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AA"
    assert {o["effectiveDateTime"] for o in of_type(result, "Observation")} == {
        "2024-07-15T08:00:00+02:00",
        "2024-07-15T08:30:00+02:00",
    }


def test_glucose_in_mmol_switches_loinc_property(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-oru-r01-constantes-ehpad.hl7").replace(b"1,05|g/L", b"5,8|mmol/L")
    result = parse_hl7v2(payload, EHPAD, terminology)
    glucose = [o for o in of_type(result, "Observation") if "GLY" in str(o["code"])]
    assert glucose[0]["code"]["coding"][0]["code"] == "15074-8"
    assert glucose[0]["valueQuantity"] == {
        "value": 5.8,
        "unit": "mmol/L",
        "system": UCUM,
        "code": "mmol/L",
    }


def test_unknown_unit_on_a_vital_sign_is_an_error(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-oru-r01-constantes-ehpad.hl7").replace(b"154|lb", b"154|stone")
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AE"
    (issue,) = result.errors
    assert str(issue.location) == "OBX[4]-5"
    assert issue.hl7_error == "103"
    assert issue.expression == ("Observation.value.unit",)


@pytest.mark.parametrize(
    ("original", "changed", "obx", "said"),
    [
        (b"154|lb", b"-5|kg", "OBX[4]-5", "body weight -5 kg is outside"),
        (b"37,8|\xc2\xb0C", b"98|\xc2\xb0C", "OBX[3]-5", "(10\u201347 Cel)"),
        (b"96|%", b"120|%", "OBX[5]-5", "oxygen saturation"),
        (b"||3||", b"||12||", "OBX[7]-5", "(0\u201310 {score})"),
        (b"13/8", b"130/-8", "OBX-5", "is not a blood pressure"),
        (b"13/8", b"800/80", "OBX-5", "systolic blood pressure 800 mm[Hg]"),
    ],
)
def test_a_vital_sign_no_person_can_have_is_refused(
    terminology: Terminology, original: bytes, changed: bytes, obx: str, said: str
) -> None:
    """Typing and unit errors (Fahrenheit sent as Celsius, a minus sign) are not stored
    as facts: the message is refused (AE) at the value, saying what can be measured."""
    payload = hl7_bytes("fr-oru-r01-constantes-ehpad.hl7")
    assert original in payload
    result = parse_hl7v2(payload.replace(original, changed, 1), EHPAD, terminology)
    assert result.ack_code == "AE"
    (issue,) = result.errors
    assert str(issue.location) == obx
    assert issue.hl7_error == "102" and issue.gateway_code == "GW-4104"
    assert said in issue.diagnostics, issue.diagnostics


def test_extreme_but_real_vital_signs_pass(terminology: Terminology) -> None:
    """The bounds are what people have been measured at, not alert ranges: asystole,
    deep accidental hypothermia, a high fever in Fahrenheit, glucose in a coma."""
    payload = hl7_bytes("fr-oru-r01-constantes-ehpad.hl7")
    for original, changed in (
        (b"|72|bpm", b"|0|bpm"),
        (b"37,8|\xc2\xb0C", b"14,2|\xc2\xb0C"),
        (b"99,5|\xc2\xb0F", b"108|\xc2\xb0F"),
        (b"1,05|g/L", b"20|g/L"),
        (b"||3||", b"||10||"),
    ):
        assert original in payload
        payload = payload.replace(original, changed, 1)
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AA", result.errors
    values = {
        o["code"]["coding"][0]["code"]: o["valueQuantity"]["value"]
        for o in of_type(result, "Observation")
        if "valueQuantity" in o
    }
    assert values["8867-4"] == 0 and values["72514-3"] == 10
    assert values["2339-0"] == 2000


def test_lab_results_real_sample(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("LAB-ORU-1.hl7"), HOSPITAL, terminology)
    assert result.ack_code == "AA"
    assert_valid_fhir(result)
    observations = of_type(result, "Observation")
    reports = of_type(result, "DiagnosticReport")
    assert len(observations) == 10
    assert [r["identifier"][0]["value"] for r in reports] == ["82503246", "890775544"]
    assert reports[0]["code"]["coding"][0] == {
        "system": LOINC,
        "code": "24317-0",
        "display": "Hemogram and platelet count, automated",
    }
    erythrocytes = observations[1]
    assert erythrocytes["valueQuantity"] == {
        "value": 4.06,
        "unit": "tera.l-1",
        "system": UCUM,
        "code": "10*12/L",
    }
    assert erythrocytes["status"] == "preliminary"
    assert erythrocytes["effectiveDateTime"] == "2014-10-06T06:27:00+07:00"
    assert erythrocytes["identifier"][0]["value"] == "82503246/11273-0/2"
    pending = observations[0]
    assert pending["status"] == "registered"
    assert pending["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert "category" not in pending  # lab codes stay as sent, no vital-sign category


def test_lab_glucose_is_not_taken_for_a_vital_sign(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("ORU-R01-RMGEAD.hl7"), HOSPITAL, terminology)
    assert result.ack_code == "AA"
    (observation,) = of_type(result, "Observation")
    assert observation["code"]["coding"][0]["code"] == "1554-5"
    assert observation["valueQuantity"] == {
        "value": 182,
        "unit": "mg/dl",
        "system": UCUM,
        "code": "mg/dL",
    }
    assert observation["interpretation"][0]["coding"][0]["code"] == "H"
    assert observation["referenceRange"] == [{"text": "70_105"}]


def test_missing_observation_identifier_is_an_error(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("ORU-R01-01.hl7"), HOSPITAL, terminology)
    assert result.ack_code == "AE"
    assert "OBX[2]-3" in {str(i.location) for i in result.errors}


def _oru_with(obx: str) -> bytes:
    base = hl7_bytes("fr-oru-r01-constantes-ehpad.hl7").replace(b"\n", b"\r").split(b"\r")
    head = [seg for seg in base if seg[:3] in (b"MSH", b"PID", b"OBR")]
    return b"\r".join([*head, obx.encode()]) + b"\r"


def test_free_text_obx_takes_its_time_from_obx_14(terminology: Terminology) -> None:
    # OBX-14 set: it wins over OBR-7 (2024-01-15 08:00) for ST as for NM.
    for obx in (
        "OBX|1|ST|COM2^Commentaire^L||texte simple||||||F|||20240602080000",
        "OBX|1|NM|FC^Pouls^L||72|bpm|||||F|||20240602080000",
    ):
        result = parse_hl7v2(_oru_with(obx), EHPAD, terminology)
        [obs] = of_type(result, "Observation")
        assert obs["effectiveDateTime"] == "2024-06-02T08:00:00+02:00", obx
        assert obs["status"] == "final"


def test_one_field_short_the_time_is_not_in_obx_14(terminology: Terminology) -> None:
    # `texte simple|||||F|||ts`: F lands in OBX-10 and the time in OBX-13; OBX-11 and
    # OBX-14 are empty, so the status is assumed and the time is OBR-7's.
    obx = "OBX|1|ST|COM2^Commentaire^L||texte simple|||||F|||20240602080000"
    result = parse_hl7v2(_oru_with(obx), EHPAD, terminology)
    [obs] = of_type(result, "Observation")
    assert obs["effectiveDateTime"] == "2024-01-15T08:00:00+01:00"
    assert any("OBX-11" in a for a in result.assumptions)
