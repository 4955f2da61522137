"""The worker stage that follows the change feed: match subscriptions, schedule announcements.

It reads the database feed from a durable checkpoint (``sync_checkpoint``), held under a
lease so that one worker at a time advances it, and commits the deliveries it enqueues and
the new position in one transaction (compare-and-set): nothing is matched twice into the
queue, nothing is skipped, whether the bus lost entries or a worker died mid-batch. The bus
only wakes it up early.

Matching is done at write time (normally milliseconds after the commit) with the
subscriber's rights: for each active subscription whose criteria type has new versions, one
search through a repository bound to the owner's context, with the criteria plus
``_id=<the new ids>``, so only what the owner may see can match. A subscription is notified
of versions committed from its creation on, until its ``end``. Deletions are not notified
(an R4 criteria cannot match a deleted resource).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson

from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.policy import labels_of
from gateway.policy.labels import INVISIBLE_PATIENT
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage.changes import FeedPosition, current_position, read_changes
from gateway.storage.records import StoredVersion
from gateway.storage.sync_queue import (
    checkpoint_row,
    enqueue_deliveries,
    move_checkpoint,
    release_checkpoint,
    schedule_announcements,
    take_checkpoint,
)
from gateway.sync.subscription_hook import SUBSCRIPTION
from gateway.sync.subscriptions import ActiveSubscription, SubscriptionDirectory

log = logging.getLogger("gateway.sync.processor")
CHECKPOINT = "changes"
DAY = 86_400 * 1_000_000


def event_id(version: StoredVersion) -> str:
    return f"{version.resource_type}/{version.id}/_history/{version.version}"


class ChangeProcessor:
    def __init__(
        self,
        services: RecordServices,
        settings: Settings,
        *,
        holder: str,
        directory: SubscriptionDirectory | None = None,
    ) -> None:
        self.services = services
        self.settings = settings
        self.holder = holder
        self.directory = directory or SubscriptionDirectory()
        self.holds_lease = False  # after run_once: whether this worker leads the feed

    def run_once(self, limit: int = 500) -> int:
        """Process one batch; the number of versions read (0: caught up or not our turn).

        Reads first, and writes only when there is something to record or the lease is
        due for renewal, so an idle worker costs one read transaction per poll.
        """
        store, now = self.services.store, self.services.clock()
        lease = int(self.settings.sync.lease_seconds * 1_000_000)
        with store.reader() as tx:
            row = checkpoint_row(tx, CHECKPOINT)
            if row is not None and row.holder not in (None, self.holder) and row.lease_until > now:
                self.holds_lease = False
                return 0
            expected = (
                row.position
                if row is not None
                else orjson.dumps(current_position(tx).to_json()).decode()
            )
            position = FeedPosition.from_json(orjson.loads(expected))
            batch = read_changes(tx, position, types=None, limit=limit)
            active = self.directory.active(tx) if batch.versions else []
        self.holds_lease = True
        renew = row is None or row.holder != self.holder or row.lease_until - now < lease // 2
        if not batch.versions and not renew:
            return 0
        jobs = self._match(batch.versions, active)
        announcements = self._announcements(batch.versions)
        with store.writer() as tx:
            checkpoint = take_checkpoint(
                tx, CHECKPOINT, holder=self.holder, now=now, lease_us=lease, initial=expected
            )
            if checkpoint is None or checkpoint.position != expected:
                self.holds_lease = checkpoint is not None
                return 0  # another worker moved on meanwhile: its batch stands
            if not batch.versions:
                return 0
            move_checkpoint(
                tx,
                CHECKPOINT,
                holder=self.holder,
                expected=expected,
                position=orjson.dumps(batch.position.to_json()).decode(),
            )
            enqueue_deliveries(tx, jobs, now=now)
            schedule_announcements(tx, announcements)
        return len(batch.versions)

    def release(self) -> None:
        """Give the feed's lease back (a graceful stop), so that another worker leads at
        its next poll rather than when the lease runs out."""
        with self.services.store.writer() as tx:
            release_checkpoint(tx, CHECKPOINT, holder=self.holder)
        self.holds_lease = False

    def _match(
        self, versions: Sequence[StoredVersion], active: Sequence[ActiveSubscription]
    ) -> list[dict[str, Any]]:
        by_type: dict[str, list[StoredVersion]] = defaultdict(list)
        for v in versions:
            if not v.deleted and v.resource_type != SUBSCRIPTION:
                by_type[v.resource_type].append(v)
        jobs: list[dict[str, Any]] = []
        for sub in active:
            candidates = [
                v
                for v in by_type.get(sub.criteria.resource_type, ())
                if v.last_updated >= sub.created and (sub.end is None or v.last_updated < sub.end)
            ]
            if not candidates:
                continue
            ids = sorted({v.id for v in candidates})
            params = [*sub.criteria.params, ("_id", ",".join(ids))]
            try:
                with Repository(sub.owner, self.services).reading() as reader:
                    found = reader.match(sub.criteria.resource_type, params, limit=len(ids))
            except GatewayError as exc:
                log.warning("subscription %s not matched: %s", sub.id, exc.code)
                continue
            matched = {v.id for v in found}
            jobs.extend(
                {
                    "subscription_id": sub.id,
                    "event_id": event_id(v),
                    "resource_type": v.resource_type,
                    "resource_id": v.id,
                    "version": v.version,
                }
                for v in candidates
                if v.id in matched
            )
        return jobs

    def _announcements(self, versions: Sequence[StoredVersion]) -> list[dict[str, Any]]:
        delay = int(self.settings.sync.announce_after_days * DAY)
        out = []
        for v in versions:
            if v.deleted or v.content is None or v.patient_id is None:
                continue
            if INVISIBLE_PATIENT.encode() not in v.content:  # cheap test before parsing
                continue
            body = orjson.loads(v.content)
            if isinstance(body, dict) and INVISIBLE_PATIENT in labels_of(body):
                out.append(
                    {
                        "resource_type": v.resource_type,
                        "resource_id": v.id,
                        "patient_id": v.patient_id,
                        "due": (v.created or v.last_updated) + delay,
                    }
                )
        return out
