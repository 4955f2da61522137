"""The active subscriptions, as the worker matches and delivers them.

Read from the ``Subscription`` resources themselves (the worker's own context may read
them all); the list is rebuilt only when a Subscription changed (the history stamp of the
type moved), so matching a batch costs no extra query.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.access.context import AccessContext
from gateway.errors import GatewayError
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx
from gateway.storage.sync_queue import current_of_type
from gateway.sync.owner import context_of, facts_in
from gateway.sync.subscription_hook import SUBSCRIPTION
from gateway.sync.subscription_rules import (
    Channel,
    Criteria,
    end_of,
    parse_criteria,
    parse_headers,
)


@dataclass(frozen=True, slots=True)
class ActiveSubscription:
    id: str
    version: int
    criteria: Criteria
    channel: Channel
    owner: AccessContext
    created: int  # microseconds: only versions committed from then on are notified
    end: int | None


def from_version(version: StoredVersion) -> ActiveSubscription | None:
    """The subscription if it is active and well formed (else None: it is not served)."""
    if version.deleted or version.content is None:
        return None
    body: Any = orjson.loads(version.content)
    if not isinstance(body, dict) or body.get("status") != "active":
        return None
    facts = facts_in(body)
    channel = body.get("channel")
    if facts is None or not isinstance(channel, dict) or channel.get("type") != "rest-hook":
        return None
    endpoint = channel.get("endpoint")
    if not isinstance(endpoint, str):
        return None
    try:
        criteria = parse_criteria(body.get("criteria"))
        headers = parse_headers(channel.get("header"))
        end = end_of(body)
        owner = context_of(facts)
    except (GatewayError, KeyError):
        return None
    payload = channel.get("payload")
    return ActiveSubscription(
        id=version.id,
        version=version.version,
        criteria=criteria,
        channel=Channel(endpoint, payload if isinstance(payload, str) else None, headers),
        owner=owner,
        created=version.created or version.last_updated,
        end=end,
    )


class SubscriptionDirectory:
    """Active subscriptions, cached per history stamp of the Subscription type.

    The stamp is the *number* of Subscription history rows, not their newest ``seq``: on
    PostgreSQL a version committed late may carry a lower ``seq`` than one already seen,
    which would leave a max-``seq`` stamp unchanged; every commit adds a row to the count.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp = -1
        self._active: list[ActiveSubscription] = []

    def active(self, tx: StoreTx) -> list[ActiveSubscription]:
        stamp = tx.count_history(resource_type=SUBSCRIPTION)
        with self._lock:
            if stamp == self._stamp:
                return self._active
        found = [s for v in current_of_type(tx, SUBSCRIPTION) if (s := from_version(v))]
        with self._lock:
            self._stamp, self._active = stamp, found
        return found

    @staticmethod
    def one(
        tx: StoreTx, subscription_id: str
    ) -> tuple[StoredVersion | None, ActiveSubscription | None]:
        current = tx.current(SUBSCRIPTION, subscription_id)
        return current, (from_version(current) if current is not None else None)
