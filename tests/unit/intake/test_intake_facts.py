"""What counts as the same fact (gateway.intake.facts), without a database."""

from __future__ import annotations

from typing import Any

from gateway.intake.facts import differences, summary, supersedes

UCUM = "http://unitsofmeasure.org"


def _pulse(value: float, status: str = "final", unit: str = "bpm", **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "x",
        "meta": {"versionId": "3"},
        "identifier": [{"system": "s", "value": "nk-1"}],
        "status": status,
        "subject": {"reference": "Patient/1"},
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": "/min"},
        **more,
    }


def test_same_content_from_another_channel_is_the_same_fact() -> None:
    stored = _pulse(72, performer=[{"reference": "PractitionerRole/9"}])
    incoming = _pulse(72.0, unit="/min", note=[{"text": "calme"}])
    del incoming["id"], incoming["meta"]
    incoming["subject"] = {"reference": "Patient?identifier=a|b"}
    assert differences(stored, incoming) == []


def test_value_status_and_interpretation_differ() -> None:
    assert differences(_pulse(72), _pulse(120)) == ["value"]
    assert differences(_pulse(101, "preliminary"), _pulse(101)) == ["status"]
    high = [{"coding": [{"system": "i", "code": "H"}]}]
    low = [{"coding": [{"system": "i", "code": "L"}]}]
    assert differences(_pulse(72, interpretation=high), _pulse(72, interpretation=low)) == [
        "interpretation"
    ]
    # carried by one side only (a CSV has no interpretation): not compared
    assert differences(_pulse(72, interpretation=high), _pulse(72)) == []
    absent = {**_pulse(72), "dataAbsentReason": {"coding": [{"code": "unknown"}]}}
    del absent["valueQuantity"]
    assert differences(_pulse(72), absent) == ["value"]


def test_blood_pressure_components_by_code() -> None:
    def bp(sys: int, dia: int) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "component": [
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": c}]},
                    "valueQuantity": {"value": v, "system": UCUM, "code": "mm[Hg]"},
                }
                for c, v in (("8480-6", sys), ("8462-4", dia))
            ],
        }

    assert differences(bp(130, 80), bp(130, 80)) == []
    assert differences(bp(130, 80), bp(140, 80)) == ["value"]
    assert summary(bp(130, 80))["value"] == "130/80"


def test_administration_dose_route_status() -> None:
    def admin(dose: float, unit: str, route: str | None, status: str = "completed") -> Any:
        dosage: dict[str, Any] = {"dose": {"value": dose, "unit": unit}}
        if route:
            dosage["route"] = {"coding": [{"system": "edqm", "code": route}]}
        return {"resourceType": "MedicationAdministration", "status": status, "dosage": dosage}

    assert differences(admin(1, "gélule", "20053000"), admin(1, "gélule", None)) == []
    assert differences(admin(1, "gélule", None), admin(1, "comprimé", None)) == ["dosage.dose"]
    assert differences(admin(1, "g", "20053000"), admin(1, "g", "20045000")) == ["dosage.route"]
    assert differences(admin(1, "g", None), admin(1, "g", None, "entered-in-error")) == ["status"]


def test_which_statuses_supersede() -> None:
    assert supersedes("Observation", "corrected", "final")
    assert supersedes("Observation", "final", "preliminary")
    assert supersedes("Observation", "entered-in-error", "corrected")
    assert not supersedes("Observation", "final", "final")
    assert not supersedes("Observation", "preliminary", "final")
    assert not supersedes("Observation", "entered-in-error", "entered-in-error")
    assert supersedes("MedicationAdministration", "entered-in-error", "completed")
    assert not supersedes("MedicationAdministration", "completed", "not-done")
