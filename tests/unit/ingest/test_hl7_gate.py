"""What makes a message unprocessable (AR), and what is only a content error (AE)."""

from __future__ import annotations

import pytest

from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.normalise import SourceConfig, Terminology

from .support import EHPAD, assert_valid_fhir, hl7_bytes, of_type

BASE = (
    "MSH|^~\\&|APP|FAC|GW|DMP|20240714083000||{type}|{control}|P|{version}\r"
    "PID|1||R1^^^X^PI||DOE^JOHN||19500101|M\r"
)


@pytest.mark.parametrize(
    ("message_type", "control", "version", "where", "code"),
    [
        ("ADT^A01", "", "2.5", "MSH-10", "101"),
        ("ADT^A01", "C1", "3.0", "MSH-12", "203"),
        ("ADT^A03", "C1", "2.5", "MSH-9.2", "201"),
        ("SIU^S12", "C1", "2.5", "MSH-9.1", "200"),
        ("", "C1", "2.5", "MSH-9.1", "200"),
    ],
)
def test_rejections(
    terminology: Terminology, message_type: str, control: str, version: str, where: str, code: str
) -> None:
    payload = BASE.format(type=message_type, control=control, version=version)
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AR"
    assert result.entries == ()
    (issue,) = result.issues
    assert str(issue.location) == where
    assert issue.hl7_error == code
    if code in ("200", "201"):
        assert "supported: ADT^A01" in issue.diagnostics


@pytest.mark.parametrize(
    "payload", [b"", b"\x00\xff\xfe", b"FHS|^~\\&|A\rBHS|^~\\&|A\rMSH|^~\\&|A", "PID|1||x"]
)
def test_unreadable_payloads_are_rejected(terminology: Terminology, payload: bytes | str) -> None:
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AR"
    assert result.header is None
    assert result.issues[0].gateway_code == "GW-4101"


def test_message_without_pid_is_a_content_error(terminology: Terminology) -> None:
    result = parse_hl7v2(
        BASE.format(type="ADT^A08", control="C2", version="2.5").split("\r")[0], EHPAD, terminology
    )
    assert result.ack_code == "AE"
    assert result.errors[0].hl7_error == "100"


def test_tddui_local_identifier_when_configured(terminology: Terminology) -> None:
    source = SourceConfig("ehpad-tilleuls", "750712184", "EHPAD Les Tilleuls", tddui_local_ids=True)
    result = parse_hl7v2(hl7_bytes("fr-adt-a01-admission-ins.hl7"), source, terminology)
    assert_valid_fhir(result)
    (patient,) = of_type(result, "Patient")
    assert patient["identifier"][-1] == {
        "use": "usual",
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PI"}]
        },
        "system": "https://identifiant-medicosocial-localusager.esante.gouv.fr",
        "value": "3750712184/R0042",
    }


def test_foreign_authorities_are_not_local_ids(terminology: Terminology) -> None:
    source = SourceConfig("ehpad", "750712184", patient_id_authorities=frozenset({"TILLEULS"}))
    payload = hl7_bytes("fr-adt-a01-admission-ins.hl7").replace(
        b"R0042^^^TILLEULS^PI", b"R0042^^^OTHER^PI"
    )
    result = parse_hl7v2(payload, source, terminology)
    assert result.ack_code == "AA"
    assert result.patient is not None
    assert [k.kind for k in result.patient.keys] == ["ins-nir"]
    assert any(str(i.location) == "PID-3[2]" for i in result.issues)
