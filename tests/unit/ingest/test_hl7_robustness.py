"""No input crashes the HL7 parser: every outcome is an AA, an AE or an AR (never internal)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.ingest.hl7v2 import build_ack, parse_hl7v2
from gateway.ingest.result import ParseResult
from gateway.normalise import Terminology

from .support import EHPAD, HL7, SAMPLES, assert_valid_fhir, sample_bytes

SUPPORTED = sorted(HL7.glob("fr-*.hl7")) + [
    SAMPLES / n for n in ("ADT01-28.hl7", "RDS-O13-02.hl7", "LAB-ORU-1.hl7", "MDM-T02-02.hl7")
]
PAYLOADS = [sample_bytes(p) for p in SUPPORTED]
TERMINOLOGY = Terminology.load()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(result: ParseResult) -> None:
    assert result.ack_code in ("AA", "AE", "AR")
    assert not any(i.gateway_code == "GW-5000" for i in result.issues), result.issues
    if result.ack_code == "AA":
        assert not result.errors
        assert_valid_fhir(result)
    else:
        assert result.entries == ()
        assert result.errors
    ack = build_ack(result.header, result.ack_code, result.issues, control_id="X", timestamp=_NOW)
    assert ack.startswith("MSH|^~\\&|")
    assert "\n" not in ack


_NOW = __import__("datetime").datetime(2024, 1, 1, tzinfo=__import__("datetime").UTC)


@FAST
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    _check(parse_hl7v2(data, EHPAD, TERMINOLOGY))


@FAST
@given(st.binary(max_size=500))
def test_random_bytes_after_a_valid_header(data: bytes) -> None:
    _check(parse_hl7v2(b"MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\r" + data, EHPAD, TERMINOLOGY))


@FAST
@given(st.sampled_from(PAYLOADS), st.integers(min_value=0, max_value=5000))
def test_truncated_messages(payload: bytes, cut: int) -> None:
    _check(parse_hl7v2(payload[: cut % (len(payload) + 1)], EHPAD, TERMINOLOGY))


@FAST
@given(
    st.sampled_from(PAYLOADS),
    st.sampled_from(["utf-8", "latin-1", "cp1252", "utf-16", "utf-32"]),
)
def test_wrong_encodings(payload: bytes, encoding: str) -> None:
    text = (
        payload.decode("utf-8", "replace")
        if b"8859/1" not in payload
        else payload.decode("latin-1")
    )
    data = text.encode(encoding, "replace")
    _check(parse_hl7v2(data, EHPAD, TERMINOLOGY))


@FAST
@given(st.sampled_from(PAYLOADS), st.sampled_from(["\r", "\n", "\r\n", "\n\r", "\r\r", " \r"]))
def test_odd_segment_separators(payload: bytes, separator: str) -> None:
    text = payload.decode("latin-1").replace("\r\n", "\r").replace("\n", "\r")
    _check(parse_hl7v2(text.replace("\r", separator), EHPAD, TERMINOLOGY))


@FAST
@given(st.sampled_from(PAYLOADS), st.integers(min_value=1, max_value=40), st.text(max_size=30))
def test_mutated_fields(payload: bytes, index: int, replacement: str) -> None:
    text = payload.decode("latin-1")
    parts = text.split("|")
    parts[index % len(parts)] = replacement
    _check(parse_hl7v2("|".join(parts), EHPAD, TERMINOLOGY))


@FAST
@given(st.sampled_from(PAYLOADS), st.sampled_from(["^", "~", "\\", "&", "|"]), st.integers(0, 3000))
def test_stray_delimiters(payload: bytes, delimiter: str, at: int) -> None:
    text = payload.decode("latin-1")
    position = 10 + at % max(len(text) - 10, 1)
    _check(parse_hl7v2(text[:position] + delimiter + text[position:], EHPAD, TERMINOLOGY))


@pytest.mark.parametrize("size", [100_000, 2_000_000])
def test_huge_fields(size: int) -> None:
    payload = sample_bytes(SAMPLES / "LAB-ORU-1.hl7").replace(b"|4.06|", b"|" + b"9" * size + b"|")
    result = parse_hl7v2(payload, EHPAD, TERMINOLOGY)
    _check(result)
    assert result.ack_code == "AE"
    payload = (
        (HL7 / "fr-mdm-t02-compte-rendu-pdf.hl7")
        .read_bytes()
        .replace(b"Base64^", b"Base64^" + b"QUFB" * (size // 4))
    )
    _check(parse_hl7v2(payload, EHPAD, TERMINOLOGY))
