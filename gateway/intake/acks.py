"""The ACK of a message the pipeline answered (HL7 v2.5 §2.9.2, original mode)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from gateway.fhir.instant import from_micros
from gateway.ingest.hl7v2 import build_ack
from gateway.ingest.issues import IngestIssue
from gateway.ingest.result import AckCode, ParseResult


def ack_for(
    result: ParseResult, code: AckCode, issues: Sequence[IngestIssue], received: int
) -> str:
    """The ACK: a fresh control id (MSH-10), the received time (MSH-7), MSA-2 = the
    message's MSH-10, one ERR per issue."""
    return build_ack(
        result.header,
        code,
        issues,
        control_id=f"ACK{uuid.uuid4().hex[:17]}",
        timestamp=from_micros(received),
    )
