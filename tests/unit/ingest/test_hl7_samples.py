"""All 139 real sample messages: mapped types give valid FHIR, the others an AR."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.ingest.hl7v2 import HANDLERS, parse_hl7v2
from gateway.normalise import Terminology

from .support import EHPAD, SAMPLES, assert_valid_fhir, sample_bytes

PATHS = sorted(SAMPLES.glob("*.hl7"))
# Samples whose content is wrong for the gateway: an AE, with the reason located.
EXPECTED_AE = {
    "MDM-T02-01.hl7": "OBX[2]-5.5",  # ED value without data
    "ORU-R01-01.hl7": "OBX[2]-3",  # OBX without observation identifier
}


def test_the_corpus_is_complete() -> None:
    assert len(PATHS) == 139


def test_training_samples_are_refused_as_sent(terminology: Terminology) -> None:
    result = parse_hl7v2((SAMPLES / "ORU-R01-01.hl7").read_bytes(), EHPAD, terminology)
    assert result.ack_code == "AR"
    assert [i.hl7_error for i in result.issues] == ["202"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_sample(terminology: Terminology, path: Path) -> None:
    result = parse_hl7v2(sample_bytes(path), EHPAD, terminology)
    assert not any(i.gateway_code == "GW-5000" for i in result.issues)
    header = result.header
    assert header is not None
    assert header.message_control_id
    supported = (header.message_type, header.trigger_event) in HANDLERS
    if not supported:
        assert result.ack_code == "AR"
        (issue,) = result.issues
        assert issue.hl7_error in ("200", "201")
        assert str(issue.location).startswith("MSH-9")
        return
    if path.name in EXPECTED_AE:
        assert result.ack_code == "AE"
        assert EXPECTED_AE[path.name] in {str(i.location) for i in result.errors}
        return
    assert result.ack_code == "AA", [(str(i.location), i.diagnostics) for i in result.errors]
    assert result.entries
    assert_valid_fhir(result)
    assert result.patient is not None
    assert result.patient.keys


def test_parsing_is_deterministic(terminology: Terminology) -> None:
    for path in PATHS[:40]:
        first = parse_hl7v2(sample_bytes(path), EHPAD, terminology)
        again = parse_hl7v2(sample_bytes(path), EHPAD, terminology)
        assert first == again
