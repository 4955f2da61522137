"""The in-process bus of the embedded default (one process; nothing survives a restart).

It has the semantics of :class:`gateway.events.bus.EventBus` in full, consumer groups and
redelivery included, so code and tests run the same against it and Redis. Thread-safe:
publishers are request threads, long-pollers are coroutines on any event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.events.bus import BusEntry, entry_key


@dataclass
class _Group:
    last: int = 0
    pending: dict[int, tuple[str, float]] = field(default_factory=dict)  # n → consumer, since


@dataclass
class _Topic:
    entries: deque[tuple[int, bytes]] = field(default_factory=deque)
    groups: dict[str, _Group] = field(default_factory=dict)


class MemoryBus:
    shared = False  # the listener's, the CLI's and the worker's commits do not reach it

    def __init__(self, *, maxlen: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self._maxlen = maxlen
        self._clock = clock
        self._topics: dict[str, _Topic] = {}
        self._counter = 0  # bus-wide, so ids never go back, even after a drop (as in Redis)
        self._cond = threading.Condition()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic()
        return topic

    def publish(self, topic: str, data: bytes) -> str:
        with self._cond:
            t = self._topic(topic)
            self._counter += 1
            number = self._counter
            t.entries.append((number, bytes(data)))
            while len(t.entries) > self._maxlen:
                t.entries.popleft()
            self._cond.notify_all()
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the waiter's loop has closed
                self._waiters.discard((loop, event))
        return f"{number}-0"

    def publish_many(self, topic: str, items: Sequence[bytes]) -> list[str]:
        return [self.publish(topic, data) for data in items]

    def ensure_group(self, topic: str, group: str) -> None:
        with self._cond:
            self._topic(topic).groups.setdefault(group, _Group())

    def read_group(
        self, topic: str, group: str, consumer: str, *, count: int = 100, block_ms: int = 0
    ) -> list[BusEntry]:
        deadline = self._clock() + block_ms / 1000
        with self._cond:
            while True:
                t = self._topic(topic)
                g = t.groups.setdefault(group, _Group())
                fresh = [(n, d) for n, d in t.entries if n > g.last][:count]
                if fresh or block_ms <= 0:
                    break
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            now = self._clock()
            for n, _ in fresh:
                g.pending[n] = (consumer, now)
            if fresh:
                g.last = fresh[-1][0]
            return [BusEntry(f"{n}-0", d) for n, d in fresh]

    def ack(self, topic: str, group: str, ids: Sequence[str]) -> None:
        with self._cond:
            g = self._topic(topic).groups.get(group)
            if g is not None:
                for entry_id in ids:
                    g.pending.pop(entry_key(entry_id)[0], None)

    def pending_count(self, topic: str, group: str) -> int:
        with self._cond:
            g = self._topic(topic).groups.get(group)
            return 0 if g is None else len(g.pending)

    def claim_stale(
        self, topic: str, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[BusEntry]:
        with self._cond:
            t = self._topic(topic)
            g = t.groups.setdefault(group, _Group())
            now = self._clock()
            present = dict(t.entries)
            out: list[BusEntry] = []
            for n in sorted(g.pending):
                if len(out) >= count:
                    break
                _, since = g.pending[n]
                if (now - since) * 1000 < min_idle_ms:
                    continue
                if n not in present:  # trimmed away: nothing left to redeliver
                    del g.pending[n]
                    continue
                g.pending[n] = (consumer, now)
                out.append(BusEntry(f"{n}-0", present[n]))
            return out

    def latest(self, topic: str) -> str:
        with self._cond:
            t = self._topics.get(topic)
            return f"{t.entries[-1][0]}-0" if t is not None and t.entries else "0-0"

    def length(self, topic: str) -> int:
        with self._cond:
            t = self._topics.get(topic)
            return 0 if t is None else len(t.entries)

    async def wait_after(self, topic: str, after: str, timeout: float) -> bool:
        mark = entry_key(after)
        event = asyncio.Event()
        key = (asyncio.get_running_loop(), event)
        with self._cond:
            self._waiters.add(key)
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                if entry_key(self.latest(topic)) > mark:
                    return True
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return False
                event.clear()
                if entry_key(self.latest(topic)) > mark:
                    return True
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    return entry_key(self.latest(topic)) > mark
        finally:
            with self._cond:
                self._waiters.discard(key)

    def drop(self, topic: str) -> None:
        with self._cond:
            self._topics.pop(topic, None)

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        with self._cond:
            self._waiters.clear()
