"""What the listener does with each frame: the intake pipeline, as one registered sender.

Every complete frame goes through :meth:`gateway.intake.Intake.hl7v2` and its ACK is
sent back. A broken frame (see :mod:`gateway.mllp.framing`) is quarantined and answered
AR without being processed. A failure of the gateway itself (database down, a bug)
answers AR with ERR-3 206/207 and stores nothing, so the sender's resend is processed;
it never takes the listener down.
"""

from __future__ import annotations

import logging

from gateway.intake import Intake, Sender
from gateway.intake.refusals import failure_ack, refuse

log = logging.getLogger("gateway.mllp")


class IntakeHandler:
    def __init__(self, intake: Intake, sender: Sender) -> None:
        self.intake = intake
        self.sender = sender

    def message(self, payload: bytes) -> bytes:
        try:
            return self.intake.hl7v2(payload, self.sender).ack_bytes
        except Exception as exc:  # never take the listener down; nothing was stored
            log.error("mllp message failed", extra={"error_type": type(exc).__name__})
            return self._encoded(failure_ack(self.intake.messages, payload, self.sender, exc))

    def broken(self, payload: bytes, reason: str) -> bytes:
        try:
            return refuse(self.intake.messages, payload, self.sender, reason).ack_bytes
        except Exception as exc:
            log.error("mllp broken frame not quarantined", extra={"error_type": type(exc).__name__})
            return self._encoded(failure_ack(self.intake.messages, payload, self.sender, exc))

    @staticmethod
    def _encoded(ack: str) -> bytes:
        return ack.encode("utf-8")
