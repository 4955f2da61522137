from __future__ import annotations

from gateway.fhir.references import (
    Ref,
    is_conditional,
    iter_reference_holders,
    parse_reference,
    rewrite_strings,
)


def test_parse_reference_forms() -> None:
    assert parse_reference("Patient/123") == Ref("Patient", "123")
    assert parse_reference("Patient/123/_history/4") == Ref("Patient", "123", "4")
    assert parse_reference("https://h.example/fhir/Patient/1") == Ref(
        "Patient", "1", None, "https://h.example/fhir"
    )
    assert parse_reference("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0") is None
    assert parse_reference("Nope/1") is None
    assert parse_reference("#contained") is None


def test_conditional_references() -> None:
    assert is_conditional("Patient?identifier=s|v")
    assert not is_conditional("Patient/1")
    assert not is_conditional("Unknown?x=1")


def test_holders_and_rewrite() -> None:
    obs = {
        "subject": {"reference": "urn:uuid:a"},
        "performer": [{"reference": "Practitioner/1"}, {"display": "x"}],
        "text": {"div": '<div><a href="urn:uuid:a">p</a></div>'},
    }
    assert [h["reference"] for h in iter_reference_holders(obs)] == [
        "urn:uuid:a",
        "Practitioner/1",
    ]
    out = rewrite_strings(obs, lambda s: "Patient/9" if s == "urn:uuid:a" else None)
    assert out["subject"] == {"reference": "Patient/9"}
    assert obs["subject"] == {"reference": "urn:uuid:a"}  # the input is not modified
