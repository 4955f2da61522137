"""Answers to what the flow never processes: broken MLLP frames and gateway failures.

- :func:`refuse`: a payload that must not be taken as a whole message (an MLLP frame
  interrupted by another start block, or too large) is quarantined and answered AR;
  it is *not* recorded in the ledger, so the sender's complete resend, with the same
  MSH-10, is processed instead of being answered with this AR;
- :func:`failure_ack`: the AR for a message the gateway could not process at all
  (database down, a bug): nothing stored or recorded, so a resend is processed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import GatewayError
from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.ingest.issues import GW_UNREADABLE, HL7_INTERNAL, error
from gateway.intake import quarantine as q
from gateway.intake.acks import ack_for
from gateway.intake.failures import HL7_RECORD_LOCKED
from gateway.intake.outcome import MessageOutcome
from gateway.intake.records import entry
from gateway.intake.sender import Sender
from gateway.intake.unit import write_unit

GW_TOO_LARGE = "GW-1013"  # as gateway.mllp.framing and gateway.api.limits

if TYPE_CHECKING:
    from gateway.intake.messages import MessageIntake


def refuse(
    intake: MessageIntake,
    payload: bytes,
    sender: Sender,
    diagnostics: str,
    *,
    gateway_code: str | None = None,
) -> MessageOutcome:
    """Quarantine a payload that must not be taken as a whole message (a broken MLLP
    frame) and answer AR. Not recorded in the ledger: the sender's complete resend,
    with the same MSH-10, must be processed, not answered with this AR.

    ``gateway_code``: the refusal's own code, in ERR-5 (``GW-1013`` a frame over the
    size limit, a ``too-costly`` issue as for an HTTP body); else ``GW-4101``."""
    received = intake.services.clock()
    result = parse_hl7v2(payload, sender.source, intake.terminology)
    issue = error(
        diagnostics,
        code="too-costly" if gateway_code == GW_TOO_LARGE else "structure",
        gateway_code=gateway_code or GW_UNREADABLE,
        hl7_error=HL7_INTERNAL,
    )
    kind = result.kind or "unreadable"
    stored = entry(
        sender,
        fmt="hl7v2",
        kind=kind,
        received=received,
        payload=payload,
        issues=[issue],
        message_id=result.header.message_control_id if result.header else None,
    )
    with write_unit(intake.services) as unit:
        q.add(unit.conn, [stored])
    return MessageOutcome(
        status="quarantined",
        kind=kind,
        key="",
        ack=ack_for(result, "AR", [issue], received),
        ack_code="AR",
        issues=(issue,),
        quarantine_id=stored.id,
    )


def failure_ack(intake: MessageIntake, payload: bytes, sender: Sender, exc: Exception) -> str:
    """The AR for a message the gateway could not process at all (database down, a
    bug): nothing was stored or recorded, so the sender's resend will be processed."""
    result = parse_hl7v2(payload, sender.source, intake.terminology)
    busy = isinstance(exc, GatewayError) and exc.status == 503
    issue = error(
        "the gateway is busy; resend the message"
        if busy
        else "the gateway could not process the message; resend it later",
        code="transient" if busy else "exception",
        gateway_code="GW-5009" if busy else "GW-5000",
        hl7_error=HL7_RECORD_LOCKED if busy else HL7_INTERNAL,
        severity="fatal",
    )
    return ack_for(result, "AR", [issue], intake.services.clock())


# -- steps ------------------------------------------------------------------------------
