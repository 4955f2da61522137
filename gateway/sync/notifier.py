"""The worker stage that hands patient notices to the sender.

It reads the ``notices`` topic in the consumer group ``notifier`` and acknowledges an entry
only once the sender accepted it and the notice is recorded in ``sync_notice``; an entry
left unacknowledged (the sender failed, or the worker died) is claimed again by a worker
after ``GATEWAY_SYNC__CLAIM_IDLE_MS``. A notice already recorded as sent is acknowledged
without sending it again.
"""

from __future__ import annotations

import logging

from gateway.events.bus import NOTICES, EventBus
from gateway.events.model import EventFormatError, PatientNotice
from gateway.record.services import RecordServices
from gateway.storage.sync_queue import mark_announcement, notice_sent, record_notice_sent
from gateway.sync.notices import NoticeSender

log = logging.getLogger("gateway.sync.notifier")
GROUP = "notifier"


class Notifier:
    def __init__(
        self,
        services: RecordServices,
        bus: EventBus,
        sender: NoticeSender,
        *,
        holder: str,
        claim_idle_ms: int,
    ) -> None:
        self.services = services
        self.bus = bus
        self.sender = sender
        self.holder = holder
        self.claim_idle_ms = claim_idle_ms

    def run_once(self, *, block_ms: int = 0) -> int:
        """Send what is waiting; the number of notices sent."""
        entries = self.bus.claim_stale(NOTICES, GROUP, self.holder, min_idle_ms=self.claim_idle_ms)
        entries += self.bus.read_group(NOTICES, GROUP, self.holder, count=100, block_ms=block_ms)
        sent = 0
        for entry in entries:
            try:
                notice = PatientNotice.decode(entry.data)
            except EventFormatError as exc:
                log.error("dropping an unreadable notice %s: %s", entry.id, exc)
                self.bus.ack(NOTICES, GROUP, [entry.id])
                continue
            with self.services.store.reader() as tx:
                done = notice_sent(tx, notice.id)
            if not done:
                try:
                    self.sender.send(notice)
                except Exception as exc:  # left pending: another attempt after claim_idle_ms
                    log.warning("notice %s not sent: %s", notice.id, type(exc).__name__)
                    continue
                now = self.services.clock()
                with self.services.store.writer() as tx:
                    record_notice_sent(
                        tx, notice.id, kind=notice.kind, patient_id=notice.patient, now=now
                    )
                    if notice.kind == "document-announced" and notice.resource:
                        rtype, _, rid = notice.resource.partition("/")
                        mark_announcement(tx, rtype, rid, state="done", now=now)
                sent += 1
            self.bus.ack(NOTICES, GROUP, [entry.id])
        return sent
