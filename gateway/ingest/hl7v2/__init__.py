"""HL7 v2 (ER7) ingestion: :func:`parse_hl7v2` and :func:`build_ack`."""

from __future__ import annotations

from gateway.ingest.hl7v2.ack import build_ack
from gateway.ingest.hl7v2.parser import HANDLERS, parse_hl7v2, read_header

__all__ = ["HANDLERS", "build_ack", "parse_hl7v2", "read_header"]
