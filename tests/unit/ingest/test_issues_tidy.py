"""Located issues, their FHIR and HL7 renderings; the tidy pass; source authorities."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import operation_outcome
from gateway.ingest.issues import CsvLocation, Hl7Location, IngestIssue, error, warning
from gateway.ingest.tidy import _primitive, tidy
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


def _reference_tidy(node: Any, key: str = "") -> Any:
    """tidy as first written (every string through _primitive): the fast paths must agree."""
    if isinstance(node, dict):
        pairs = ((k, _reference_tidy(v, k)) for k, v in node.items() if v is not None)
        return {k: v for k, v in pairs if v or v is False or v == 0}
    if isinstance(node, list):
        items = (_reference_tidy(v, key) for v in node if v is not None)
        return [v for v in items if v or v is False or v == 0]
    if type(node) is str:
        return _primitive(key, node)
    return node


_KEYS = st.sampled_from(["code", "system", "reference", "status", "text", "display", "value"])
_TEXT = st.text(alphabet=st.sampled_from("aB1 \t\n\r\x00\x07\xa0|é"), max_size=6)
_SCALARS = st.none() | st.booleans() | st.integers(-1, 1) | st.floats(0, 1) | _TEXT
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_KEYS, _JSON, max_size=5))
def test_tidy_agrees_with_its_reference(resource: dict[str, Any]) -> None:
    assert tidy(resource) == _reference_tidy(resource)


def test_source_authorities() -> None:
    any_authority = SourceConfig("a", "750712184")
    assert any_authority.owns_authority("ANY", "")
    strict = SourceConfig("b", "750712184", patient_id_authorities=frozenset({"TILLEULS", "1.2.3"}))
    assert strict.owns_authority("TILLEULS", "")
    assert strict.owns_authority("", "1.2.3")
    assert not strict.owns_authority("OTHER", "9.9")
    assert not strict.owns_authority("", "")
