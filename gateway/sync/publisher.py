"""Publishing change events after commit (the :class:`~gateway.record.seams.CommitListener`).

The repository calls :meth:`ChangePublisher.committed` once the transaction committed.
Publishing is best effort: the change feed and the subscription worker read the database,
which is the source of truth, so a bus that is down only delays long-polls (until their
timeout) and the worker (until its next poll); the request that wrote never fails for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gateway.events.bus import CHANGES, EventBus
from gateway.events.model import ChangeEvent, interaction_of
from gateway.storage.records import StoredVersion

log = logging.getLogger("gateway.sync.publisher")


def change_event(version: StoredVersion) -> ChangeEvent:
    return ChangeEvent(
        seq=version.seq or 0,
        resource_type=version.resource_type,
        id=version.id,
        version=version.version,
        interaction="delete"
        if version.deleted
        else interaction_of(version.method, version.version),
        patient=version.patient_id,
        time=version.last_updated,
    )


class ChangePublisher:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    def committed(self, versions: Sequence[StoredVersion]) -> None:
        if not versions:
            return
        try:
            self.bus.publish_many(CHANGES, [change_event(v).encode() for v in versions])
        except Exception as exc:  # the commit stands; readers catch up from the database
            log.warning(
                "change events not published (%s); the feed catches up from the database",
                type(exc).__name__,
            )
