"""What makes a message unprocessable (AR), and what is only a content error (AE)."""

from __future__ import annotations

import pytest

from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.ingest.issues import Hl7Location
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
        ("ADT^A01", "C1", "", "MSH-12", "101"),  # missing, not an unsupported version
        ("ADT^A03", "C1", "2.5", "MSH-9.2", "201"),
        ("SIU^S12", "C1", "2.5", "MSH-9.1", "200"),
        ("", "C1", "2.5", "MSH-9", "101"),  # missing, not an unsupported type
        ("^A01", "C1", "2.5", "MSH-9", "101"),
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
    if code in ("200", "201") or where == "MSH-9":
        assert "supported: ADT^A01" in issue.diagnostics
    if where == "MSH-9":
        assert isinstance(issue.location, Hl7Location) and issue.location.erl() == "MSH^1^9^1"
        assert issue.gateway_code == "GW-4103"


@pytest.mark.parametrize(
    ("processing", "code", "gateway_code"),
    [
        ("T", "202", "GW-4102"),  # training: valid in table 0103, never production data
        ("D", "202", "GW-4102"),  # debugging
        ("X", "202", "GW-4102"),  # not in table 0103
        ("T^A", "202", "GW-4102"),  # with a processing mode (PT.2)
        ("", "101", "GW-4103"),
    ],
)
def test_only_production_messages_are_processed(
    terminology: Terminology, processing: str, code: str, gateway_code: str
) -> None:
    payload = BASE.format(type="ADT^A01", control="C1", version="2.5").replace(
        "|C1|P|", f"|C1|{processing}|"
    )
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AR"
    assert result.entries == ()
    (issue,) = result.issues
    assert isinstance(issue.location, Hl7Location) and issue.location.erl() == "MSH^1^11^1"
    assert (issue.hl7_error, issue.gateway_code) == (code, gateway_code)


def test_a_production_message_is_processed(terminology: Terminology) -> None:
    payload = BASE.format(type="ADT^A01", control="C1", version="2.5").replace("|P|", "|P^T|")
    assert parse_hl7v2(payload, EHPAD, terminology).ack_code != "AR"


@pytest.mark.parametrize(
    "payload", [b"", b"\x00\xff\xfe", b"FHS|^~\\&|A\rBHS|^~\\&|A\rPID|1||x", "PID|1||x"]
)
def test_unreadable_payloads_are_rejected(terminology: Terminology, payload: bytes | str) -> None:
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AR"
    assert result.header is None
    assert result.issues[0].gateway_code == "GW-4101"


def _oru(control: str, ins: str) -> str:
    return (
        f"MSH|^~\\&|APP|FAC|GW|DMP|20240714083000||ORU^R01^ORU_R01|{control}|P|2.5\r"
        f"PID|1||{ins}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||DOE^JOHN||19500101|M\r"
        "OBR|1|||CONST^Constantes^L|||20240714080000\r"
        "OBX|1|NM|FC^Pouls^L||72|bpm|||||F|||20240714080000\r"
    )


def test_two_messages_in_one_payload_are_refused_whole(terminology: Terminology) -> None:
    # Read as one, message 2's OBX would be filed in patient A's record, and never acked.
    payload = _oru("BB-045", "240037505612377") + _oru("BB-046", "185127512345610")
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AR"
    assert result.entries == ()
    (issue,) = result.issues
    assert isinstance(issue.location, Hl7Location) and issue.location.erl() == "MSH^2"
    assert issue.hl7_error == "100"
    assert issue.gateway_code == "GW-4116"
    assert "one message per MLLP block or HTTP request body" in issue.diagnostics
    assert result.header is not None and result.header.message_control_id == "BB-045"


@pytest.mark.parametrize(
    ("envelope", "where"),
    [
        ("FHS|^~\\&|APP\rBHS|^~\\&|APP\r{m}BTS|1\rFTS|1\r", "FHS^1"),
        ("BHS|^~\\&|APP\r{m}BTS|1\r", "BHS^1"),
        ("{m}BTS|1\r", "BTS^1"),
        ("{m}FTS|1\r", "FTS^1"),
    ],
)
def test_a_batch_envelope_in_one_payload_is_refused(
    terminology: Terminology, envelope: str, where: str
) -> None:
    payload = envelope.format(m=_oru("BB-045", "240037505612377"))
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AR"
    assert result.entries == ()
    (issue,) = result.issues
    assert isinstance(issue.location, Hl7Location) and issue.location.erl() == where
    assert (issue.hl7_error, issue.gateway_code) == ("100", "GW-4116")
    assert result.header is not None and result.header.message_control_id == "BB-045"


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
