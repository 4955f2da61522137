"""What counts as the same fact (gateway.intake.facts), without a database."""

from __future__ import annotations

from typing import Any

from gateway.intake.fact_content import differences, summary, supersedes

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


def _report(status: str, code: str = "CONST", **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "status": status,
        "code": {"coding": [{"system": "l", "code": code}]},
        "effectiveDateTime": "2024-01-15T08:00:00+01:00",
        "result": [{"reference": "Observation/1"}],
        **more,
    }


def test_report_status_code_and_time_not_results_nor_issued() -> None:
    same = _report("final", result=[{"reference": "urn:uuid:x"}], issued="2024-01-16T00:00:00Z")
    assert differences(_report("final"), same) == []
    assert differences(_report("preliminary"), _report("final")) == ["status"]
    assert differences(_report("final"), _report("final", "HEMO")) == ["code"]
    later = _report("final", effectiveDateTime="2024-01-15T09:00:00+01:00")
    assert differences(_report("final"), later) == ["effectiveDateTime"]
    assert summary(_report("final"))["value"] == "CONST"


def _dispense(quantity: float, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationDispense",
        "status": "completed",
        "medicationReference": {"reference": "Medication/m1"},
        "quantity": {"value": quantity, "unit": "boîte"},
        "whenHandedOver": "2024-07-14T10:30:00+02:00",
        "dosageInstruction": [
            {
                "text": "1 comprimé matin et soir",
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "comprimé"}}],
                "route": {"coding": [{"system": "edqm", "code": "20053000"}]},
            }
        ],
        **more,
    }


def test_dispense_medication_quantity_time_and_dosage() -> None:
    cip = {"coding": [{"system": "cip13", "code": "3400933516390"}]}
    other = {"coding": [{"system": "cip13", "code": "3400930000007"}]}
    # the medication is compared by the code the stage puts beside the reference
    assert differences(_dispense(2, _medication=cip), _dispense(2, _medication=cip)) == []
    assert differences(_dispense(2, _medication=cip), _dispense(2, _medication=other)) == [
        "medication"
    ]
    assert differences(_dispense(2), _dispense(3)) == ["quantity"]
    handed = _dispense(2, whenHandedOver="2024-07-15T10:30:00+02:00")
    assert differences(_dispense(2), handed) == ["whenHandedOver"]
    twice = _dispense(2)
    twice["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = 2
    twice["dosageInstruction"][0]["text"] = "2 comprimés matin et soir"
    assert differences(_dispense(2), twice) == ["dosageInstruction.text", "dosageInstruction.dose"]
    retracted = _dispense(2, status="entered-in-error")
    assert differences(_dispense(2), retracted) == ["status"]
    assert summary(_dispense(2, _medication=cip)) == {
        "status": "completed",
        "value": 2,
        "unit": "boîte",
        "medication": "3400933516390",
        "dose": "1 comprimé",
    }


def _request(status: str = "active", repeats: int = 0, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "cip13", "code": "3400930000007"}]},
        "authoredOn": "2024-01-10T09:15:00+01:00",
        "dosageInstruction": [{"text": "1 comprimé le soir", "timing": {"code": {"text": "QHS"}}}],
        "dispenseRequest": {
            "quantity": {"value": 14, "unit": "comprimé"},
            "numberOfRepeatsAllowed": repeats,
        },
        **more,
    }


def test_request_medication_dosage_and_dispense_request_not_authored_on() -> None:
    # ORC-9 (authoredOn) is the time of the message's transaction: a cancel changes it
    assert differences(_request(), _request(authoredOn="2024-01-12T10:00:00+01:00")) == []
    assert differences(_request(), _request("cancelled")) == ["status"]
    assert differences(_request(), _request(repeats=2)) == [
        "dispenseRequest.numberOfRepeatsAllowed"
    ]
    other = {"coding": [{"system": "cip13", "code": "3400933516390"}]}
    assert differences(_request(), _request(medicationCodeableConcept=other)) == ["medication"]
    twice = _request(dosageInstruction=[{"text": "2 comprimés le soir"}])
    assert differences(_request(), twice) == ["dosageInstruction.text"]
    more = _request(dispenseRequest={"quantity": {"value": 28, "unit": "comprimé"}})
    assert differences(_request(), more) == ["dispenseRequest.quantity"]


def test_which_statuses_supersede_reports_dispenses_requests() -> None:
    assert supersedes("DiagnosticReport", "final", "preliminary")
    assert supersedes("DiagnosticReport", "final", "partial")
    assert supersedes("DiagnosticReport", "preliminary", "registered")
    assert supersedes("DiagnosticReport", "corrected", "final")
    assert supersedes("DiagnosticReport", "amended", "corrected")
    assert supersedes("DiagnosticReport", "appended", "final")
    assert supersedes("DiagnosticReport", "cancelled", "preliminary")
    assert supersedes("DiagnosticReport", "entered-in-error", "final")
    assert not supersedes("DiagnosticReport", "final", "final")
    assert not supersedes("DiagnosticReport", "preliminary", "final")
    assert not supersedes("DiagnosticReport", "cancelled", "final")
    assert not supersedes("DiagnosticReport", "corrected", "entered-in-error")
    assert not supersedes("DiagnosticReport", "entered-in-error", "entered-in-error")
    assert supersedes("MedicationDispense", "entered-in-error", "completed")
    assert supersedes("MedicationDispense", "completed", "in-progress")
    assert not supersedes("MedicationDispense", "completed", "completed")
    assert supersedes("MedicationRequest", "cancelled", "active")
    assert supersedes("MedicationRequest", "stopped", "active")
    assert supersedes("MedicationRequest", "on-hold", "active")
    assert supersedes("MedicationRequest", "active", "on-hold")
    assert supersedes("MedicationRequest", "completed", "active")
    assert supersedes("MedicationRequest", "entered-in-error", "stopped")
    assert not supersedes("MedicationRequest", "active", "active")  # XO: reviewed by hand
    assert not supersedes("MedicationRequest", "active", "cancelled")
    assert not supersedes("MedicationRequest", "active", "stopped")
