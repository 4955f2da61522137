"""The one event-bus Protocol, with the semantics of Redis Streams.

A *topic* is an append-only log of entries, each with an id that grows with every
publish (after a ``drop``, Redis restarts ids from the clock: never lower at millisecond
precision). It keeps at most about ``maxlen`` entries (older ones are trimmed).

- ``publish`` appends and returns the entry id.
- A *consumer group* reads every entry of a topic once across its consumers
  (``read_group``); an entry read but not acknowledged (``ack``) stays *pending* with its
  consumer, and ``claim_stale`` hands pending entries idle for ``min_idle_ms`` to another
  consumer: at-least-once delivery when a worker dies. A group created on a topic starts at
  its beginning, so nothing published before the first worker started is missed.
- ``latest`` and ``wait_after`` let a request handler long-poll: note ``latest()`` before
  querying the database, then ``await wait_after(mark, timeout)``; a publish after the mark
  wakes it, one before it was already visible to the query.
- ``drop`` deletes a topic and its groups (what a Redis restart without persistence does);
  consumers recreate their group on the next read.

Ids compare with :func:`entry_key`. Implementations: :class:`gateway.events.memory.MemoryBus`
and :class:`gateway.events.redis_bus.RedisBus`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

CHANGES = "changes"
NOTICES = "notices"


@dataclass(frozen=True, slots=True)
class BusEntry:
    id: str
    data: bytes


def entry_key(entry_id: str) -> tuple[int, int]:
    """``"1700000000000-3"`` → ``(1700000000000, 3)``, the order of stream ids."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class EventBus(Protocol):
    #: Whether other processes' entries reach this bus (Redis); the in-process bus sees
    #: only its own process's, so a waiter must also poll the database.
    shared: bool

    def publish(self, topic: str, data: bytes) -> str: ...

    def publish_many(self, topic: str, items: Sequence[bytes]) -> list[str]:
        """Append several entries in order (one round trip on Redis)."""
        ...

    def ensure_group(self, topic: str, group: str) -> None: ...

    def read_group(
        self, topic: str, group: str, consumer: str, *, count: int = 100, block_ms: int = 0
    ) -> list[BusEntry]:
        """New entries for this consumer (creating the group if needed); ``block_ms`` > 0
        waits up to that long for one."""
        ...

    def ack(self, topic: str, group: str, ids: Sequence[str]) -> None: ...

    def pending_count(self, topic: str, group: str) -> int: ...

    def claim_stale(
        self, topic: str, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[BusEntry]:
        """Take over entries pending with any consumer for at least ``min_idle_ms``."""
        ...

    def latest(self, topic: str) -> str:
        """The id of the newest entry, ``"0-0"`` when there is none."""
        ...

    def length(self, topic: str) -> int: ...

    async def wait_after(self, topic: str, after: str, timeout: float) -> bool:
        """True as soon as an entry newer than ``after`` exists; False after ``timeout`` s."""
        ...

    def drop(self, topic: str) -> None: ...

    async def aclose(self) -> None:
        """Release what ``wait_after`` opened on the running event loop."""
        ...

    def close(self) -> None: ...
