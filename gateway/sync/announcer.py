"""Announcing documents hidden from the patient, after the delay (CSP R1111-53).

A document labelled ``INVISIBLE_PATIENT`` waits for an announcement consultation; the DMP
announces it to the patient after two weeks (``GATEWAY_SYNC__ANNOUNCE_AFTER_DAYS``) and
shows it by itself after a month. The change processor schedules each such document when
it is written (:mod:`gateway.sync.processor`); this stage queues a ``document-announced``
notice when it falls due, unless the label was lifted or the document deleted meanwhile
(the patient then knows, or there is nothing to announce). A queued notice not confirmed
as sent within an hour is queued again (its id is stable, so it is sent once).
"""

from __future__ import annotations

import orjson

from gateway.config import Settings
from gateway.events.bus import NOTICES, EventBus
from gateway.events.model import PatientNotice
from gateway.policy import labels_of
from gateway.policy.labels import INVISIBLE_PATIENT
from gateway.record.services import RecordServices
from gateway.storage.sync_queue import (
    any_announcement_due,
    due_announcements,
    mark_announcement,
)

REQUEUE_AFTER = 3600 * 1_000_000


def announcement_id(resource_type: str, resource_id: str) -> str:
    return f"announce:{resource_type}/{resource_id}"


class Announcer:
    def __init__(self, services: RecordServices, settings: Settings, bus: EventBus) -> None:
        self.services = services
        self.settings = settings
        self.bus = bus

    def run_once(self, limit: int = 100) -> int:
        now = self.services.clock()
        queued = 0
        with self.services.store.reader() as tx:
            if not any_announcement_due(tx, now=now, requeue_before=now - REQUEUE_AFTER):
                return 0
        with self.services.store.writer() as tx:
            for item in due_announcements(
                tx, now=now, requeue_before=now - REQUEUE_AFTER, limit=limit
            ):
                current = tx.current(item.resource_type, item.resource_id)
                body = orjson.loads(current.content) if current and current.content else None
                still_hidden = (
                    current is not None
                    and not current.deleted
                    and isinstance(body, dict)
                    and INVISIBLE_PATIENT in labels_of(body)
                )
                if not still_hidden:
                    mark_announcement(
                        tx, item.resource_type, item.resource_id, state="skipped", now=now
                    )
                    continue
                notice = PatientNotice(
                    id=announcement_id(item.resource_type, item.resource_id),
                    kind="document-announced",
                    patient=item.patient_id,
                    time=now,
                    resource=f"{item.resource_type}/{item.resource_id}",
                )
                self.bus.publish(NOTICES, notice.encode())
                mark_announcement(tx, item.resource_type, item.resource_id, state="queued", now=now)
                queued += 1
        return queued
