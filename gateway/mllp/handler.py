"""What the listener does with each frame: the intake pipeline, as one registered sender.

Every complete frame goes through :meth:`gateway.intake.Intake.hl7v2` and its ACK is
sent back. A broken frame (see :mod:`gateway.mllp.framing`) is quarantined and answered
AR without being processed. A failure of the gateway itself (database down, a bug)
answers AR with ERR-3 206/207 and stores nothing, so the sender's resend is processed;
it never takes the listener down.

Each message is logged once at INFO (``mllp message``: message kind, ACK code, outcome,
quarantine id, duration; never the message or its identifiers) and reported to
``observe`` (the CLI counts them in the Prometheus metrics). The outcome is one of
``accepted``, ``duplicate``, ``quarantined`` (:mod:`gateway.intake.outcome`) or
``failed`` (the gateway could not process it; nothing was stored).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gateway.intake import Intake, MessageOutcome, Sender
from gateway.intake.refusals import failure_ack, refuse

log = logging.getLogger("gateway.mllp")
Observe = Callable[[str, float], None]
"""Called once per frame with its outcome and the seconds it took."""


class IntakeHandler:
    def __init__(self, intake: Intake, sender: Sender, observe: Observe | None = None) -> None:
        self.intake = intake
        self.sender = sender
        self.observe = observe

    def message(self, payload: bytes) -> bytes:
        return self._answer(payload, lambda: self.intake.hl7v2(payload, self.sender))

    def broken(self, payload: bytes, reason: str, code: str | None = None) -> bytes:
        return self._answer(
            payload,
            lambda: refuse(self.intake.messages, payload, self.sender, reason, gateway_code=code),
        )

    def _answer(self, payload: bytes, work: Callable[[], MessageOutcome]) -> bytes:
        started = time.perf_counter()
        try:
            outcome = work()
        except Exception as exc:  # never take the listener down; nothing was stored
            log.error("mllp message failed", extra={"error_type": type(exc).__name__})
            ack = failure_ack(self.intake.messages, payload, self.sender, exc)
            self._done(started, "failed", kind=None, ack_code="AR")
            return ack.encode("utf-8")
        self._report(started, outcome)
        return outcome.ack_bytes

    def _report(self, started: float, outcome: MessageOutcome) -> None:
        self._done(
            started,
            outcome.status,
            kind=outcome.kind,
            ack_code=outcome.ack_code,
            quarantine_id=outcome.quarantine_id,
        )

    def _done(
        self,
        started: float,
        status: str,
        *,
        kind: str | None,
        ack_code: str,
        quarantine_id: str | None = None,
    ) -> None:
        elapsed = time.perf_counter() - started
        log.info(
            "mllp message",
            extra={
                "kind": kind,
                "ack_code": ack_code,
                "outcome": status,
                "quarantine_id": quarantine_id,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        if self.observe is not None:
            self.observe(status, elapsed)
