"""Located issues, their FHIR and HL7 renderings; the tidy pass; source authorities."""

from __future__ import annotations

from gateway.errors import operation_outcome
from gateway.ingest.issues import CsvLocation, Hl7Location, IngestIssue, error, warning
from gateway.ingest.tidy import tidy
from gateway.normalise import SourceConfig


def test_hl7_locations() -> None:
    assert str(Hl7Location("PID")) == "PID"
    assert str(Hl7Location("PID", 1, 3)) == "PID-3"
    assert str(Hl7Location("OBX", 2, 5, 1)) == "OBX[2]-5"
    assert str(Hl7Location("PID", 1, 3, 2, 1)) == "PID-3[2].1"
    assert str(Hl7Location("PID", 1, 3, 1, 4, 2)) == "PID-3.4.2"
    assert Hl7Location("MSH", 1, 9, None, 2).erl() == "MSH^1^9^1^2"
    assert Hl7Location("OBX", 3).erl() == "OBX^3"
    assert Hl7Location("PID", 1, 3).erl("$") == "PID$1$3$1"


def test_ingest_issue_renderings() -> None:
    issue = error(
        "INS fails its check",
        Hl7Location("PID", 1, 3, 1, 1),
        code="value",
        expression="Patient.identifier",
        gateway_code="GW-4106",
    )
    assert issue.is_error
    assert issue.to_fhir() == {
        "severity": "error",
        "code": "value",
        "details": {
            "coding": [
                {
                    "system": "https://dmp-gateway.fr/fhir/CodeSystem/gateway-error",
                    "code": "GW-4106",
                }
            ]
        },
        "diagnostics": "INS fails its check",
        "expression": ["Patient.identifier"],
        "location": ["PID-3.1"],
    }
    outcome = operation_outcome([issue.issue])
    assert outcome["issue"][0]["diagnostics"] == "PID-3.1: INS fails its check"
    note = warning("column ignored", CsvLocation(1, "Chambre"))
    assert not note.is_error
    assert str(note.location) == "line 1, column 'Chambre'"
    assert note.hl7_error == "0"
    assert IngestIssue("information", "informational", "x").issue.diagnostics == "x"


def test_tidy_makes_primitives_valid() -> None:
    resource = {
        "resourceType": "Observation",
        "status": " final ",
        "code": {
            "coding": [{"system": "https://x.fr/cs/a b", "code": "A  B\x08", "display": ""}],
            "text": "  ",
        },
        "note": [{"text": "ligne 1\nligne 2\x07"}, {}],
        "valueBoolean": False,
        "valueInteger": 0,
        "component": [],
        "subject": {"reference": "Patient?identifier=x|y"},
    }
    assert tidy(resource) == {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "https://x.fr/cs/a%20b", "code": "A B"}]},
        "note": [{"text": "ligne 1\nligne 2"}],
        "valueBoolean": False,
        "valueInteger": 0,
        "subject": {"reference": "Patient?identifier=x|y"},
    }


def test_source_authorities() -> None:
    any_authority = SourceConfig("a", "750712184")
    assert any_authority.owns_authority("ANY", "")
    strict = SourceConfig("b", "750712184", patient_id_authorities=frozenset({"TILLEULS", "1.2.3"}))
    assert strict.owns_authority("TILLEULS", "")
    assert strict.owns_authority("", "1.2.3")
    assert not strict.owns_authority("OTHER", "9.9")
    assert not strict.owns_authority("", "")
