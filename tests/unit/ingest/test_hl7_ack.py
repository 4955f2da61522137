"""ACK building: MSH, MSA with AA/AE/AR, ERR with location, table 0357 code, severity."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7

from gateway.ingest.hl7v2 import build_ack, parse_hl7v2
from gateway.ingest.hl7v2.ack import escape
from gateway.normalise import Terminology

from .support import EHPAD, hl7_bytes

NOW = datetime(2024, 7, 14, 6, 30, tzinfo=UTC)


def test_aa() -> None:
    result_header = None
    ack = build_ack(result_header, "AA", control_id="GW-1", timestamp=NOW)
    assert (
        ack
        == "MSH|^~\\&|DMP-GATEWAY||||20240714063000+0000||ACK|GW-1|P|2.5\rMSA|AA||Message accepted"
    )


def test_ae_with_located_errors(terminology: Terminology) -> None:
    payload = hl7_bytes("fr-adt-a01-admission-ins.hl7").replace(
        b"240037505612377", b"240037505612300"
    )
    result = parse_hl7v2(payload, EHPAD, terminology)
    ack = build_ack(result.header, result.ack_code, result.issues, control_id="GW-2", timestamp=NOW)
    message = hl7.parse(ack)
    assert str(message.segment("MSH")[9]) == "ACK^A01^ACK"
    assert str(message.segment("MSH")[5]) == "TITAN"
    assert str(message.segment("MSA")[1]) == "AE"
    assert str(message.segment("MSA")[2]) == "TIL-ADT-000101"
    err = message.segment("ERR")
    assert str(err[2]) == "PID^1^3^1^1"
    assert str(err[3]) == "102^Data type error^HL70357"
    assert str(err[4]) == "E"
    assert str(err[5]) == "GW-4106^value^L"  # the INS key check, a FHIR "value" issue
    assert "240037505612300" in str(err[8])


def test_ar_for_unsupported_message(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("SIU-S12-01.hl7"), EHPAD, terminology)
    assert result.ack_code == "AR"
    ack = build_ack(result.header, result.ack_code, result.issues, control_id="GW-3", timestamp=NOW)
    message = hl7.parse(ack)
    assert str(message.segment("MSA")[1]) == "AR"
    err = message.segment("ERR")
    assert str(err[2]) == "MSH^1^9^1^1"
    assert str(err[3]) == "200^Unsupported message type^HL70357"


def test_ar_for_garbage() -> None:
    ack = build_ack(None, "AR", control_id="GW-4", timestamp=NOW, text="not HL7")
    assert ack.split("\r")[1] == "MSA|AR||not HL7"


def test_warnings_are_reported_with_severity_w(terminology: Terminology) -> None:
    result = parse_hl7v2(hl7_bytes("ADT01-28.hl7"), EHPAD, terminology)
    ack = build_ack(result.header, result.ack_code, result.issues, control_id="GW-5", timestamp=NOW)
    err = hl7.parse(ack).segment("ERR")
    assert str(err[4]) == "W"
    assert str(err[3]).startswith("0^")


def test_escape_keeps_separators_out() -> None:
    assert escape("a|b^c&d~e\\f\ng") == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g"
    ack = build_ack(None, "AE", control_id="A|B", timestamp=NOW, text="x^y")
    assert hl7.parse(ack).segment("MSA")[3] == ["x\\S\\y"]


def test_the_ack_answers_the_senders_whole_application_and_facility(
    terminology: Terminology,
) -> None:
    payload = (
        "MSH|^~\\&|PHARMACIE DU MARCHE^750000028^FINESS|LGO \\T\\ CO^1.2.250.1&X^ISO"
        "|GW|DMP|20240714083000||SIU^S12|C1|P|2.5\r"
    )
    result = parse_hl7v2(payload, EHPAD, terminology)
    ack = build_ack(result.header, result.ack_code, result.issues, control_id="G", timestamp=NOW)
    msh = ack.split("\r")[0].split("|")
    assert msh[4] == "PHARMACIE DU MARCHE^750000028^FINESS"
    assert msh[5] == "LGO \\T\\ CO^1.2.250.1&X^ISO"
    assert result.header is not None
    assert result.header.sending_application == "PHARMACIE DU MARCHE", "the key is unchanged"


def test_the_whole_hd_is_re_encoded_with_the_acks_separators(terminology: Terminology) -> None:
    payload = "MSH|$~\\&|APP$1.2.3$ISO|FAC \\S\\ 1|GW|DMP|20240714083000||SIU$S12|C1|P|2.5\r"
    result = parse_hl7v2(payload, EHPAD, terminology)
    ack = build_ack(result.header, result.ack_code, result.issues, control_id="G", timestamp=NOW)
    msh = ack.split("\r")[0].split("|")
    assert msh[4:6] == ["APP^1.2.3^ISO", "FAC $ 1"]


def test_msa_2_echoes_msh_10_when_the_encoding_characters_are_wrong(
    terminology: Terminology,
) -> None:
    payload = "MSH|^~|APP|FAC|GW|DMP|20240714083000||ADT^A01|BB-047|P|2.5\rPID|1\r"
    result = parse_hl7v2(payload, EHPAD, terminology)
    assert result.ack_code == "AR"
    ack = build_ack(result.header, result.ack_code, result.issues, control_id="G", timestamp=NOW)
    msa = ack.split("\r")[1].split("|")
    assert msa[1:3] == ["AR", "BB-047"]
    assert "encoding characters" in ack


def test_msa_2_stays_empty_when_msh_10_cannot_be_located(terminology: Terminology) -> None:
    for payload in ("MSH|^~|APP|FAC", "MSHA^~\\&A1A2A3A4A5A6A7A8A9", "MSH"):
        result = parse_hl7v2(payload, EHPAD, terminology)
        ack = build_ack(result.header, "AR", result.issues, control_id="G", timestamp=NOW)
        assert ack.split("\r")[1].split("|")[2] == "", payload
