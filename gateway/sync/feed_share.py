"""Sharing the change feed's database reads between callers who ask at the same moment.

A commit wakes every long-polling consumer at once; each would then run the same query
over the same rows, open (decrypt) the same content and read the same current version
numbers. :class:`SharedReads` lets the first caller do that read and the others reuse it.
Only what is the same for every caller is shared: the *unfiltered* rows of
:func:`gateway.storage.changes.read_changes` for one (position, ``_type`` filter, batch
size), the snapshot that closes a new window, and a patient's access facts (what the
rules need to know about the patient, the same whoever asks). The access decision, and
everything else in the answer, stays with each caller's own repository.

**Freshness.** A caller gives the moment its need began (``fresh_after``: when its request
arrived, or when its long-poll woke). It is given only a read made in a transaction that
*began* at or after that moment, and the bus mark taken just before that transaction: so
what it receives is exactly what it could have read itself at some instant of its own
request, and a commit the read missed was published after that mark and wakes the
caller's next wait. Never a read from before the caller's need, so never stale data, and
an erasure or a masking is seen by the next need that follows it.

A caller that took a mark (it may wait on it) is given only a read that has one: a
caller that will not wait if it finds something may read without taking a mark.

**Single flight.** Callers asking for the same key while its read runs wait for it
instead of running it again. A read that fails is not shared: the waiters read
themselves.

Process-local and short-lived by design: reads are kept ``keep`` seconds at most (the
callers woken by one commit ask within a few milliseconds), at most ``max_entries`` of
them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Slot(Generic[T]):
    started: float  # when the reading transaction began (before its mark was taken)
    mark: str | None
    done: threading.Event = field(default_factory=threading.Event)
    value: T | None = None
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Shared(Generic[T]):
    """A read and the bus mark taken just before it started."""

    value: T
    mark: str | None
    reused: bool  # read by another caller


class SharedReads:
    def __init__(
        self,
        *,
        keep: float = 2.0,
        max_entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keep = keep
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[Hashable, _Slot[object]] = {}
        self.run = 0  # reads run (counters for tests and metrics; approximate under threads)
        self.shared = 0  # reads given to a caller other than the one that ran them

    def now(self) -> float:
        return self._clock()

    def read(
        self,
        key: Hashable,
        *,
        fresh_after: float,
        began: float,
        mark: str | None,
        compute: Callable[[], T],
    ) -> Shared[T]:
        """The value of ``key`` read at or after ``fresh_after``: another caller's, or
        ``compute()`` run now. ``began`` is when the transaction ``compute`` reads in
        began (before its first statement, so its data is no older), ``mark`` the bus
        mark taken after ``began`` and before that transaction."""
        while True:
            with self._lock:
                slot = self._slots.get(key)
                if (
                    slot is None
                    or slot.started < fresh_after
                    or slot.failed
                    or (mark is not None and slot.mark is None)
                ):
                    own: _Slot[object] = _Slot(started=began, mark=mark)
                    self._slots[key] = own
                    self._prune(self._clock())
                    break
            slot.done.wait()
            if not slot.failed:
                self.shared += 1
                return Shared(slot.value, slot.mark, True)  # type: ignore[arg-type]
        self.run += 1
        try:
            value = compute()
        except BaseException:
            own.failed = True
            with self._lock:
                if self._slots.get(key) is own:
                    del self._slots[key]
            own.done.set()
            raise
        own.value = value
        own.done.set()
        return Shared(value, own.mark, False)

    def _prune(self, now: float) -> None:
        """Drop reads older than ``keep``, then the oldest past ``max_entries`` (the lock
        is held). Reads in flight are kept unless the table is full."""
        stale = [k for k, v in self._slots.items() if now - v.started > self._keep]
        for k in stale:
            del self._slots[k]
        excess = len(self._slots) - self._max
        if excess > 0:
            for k in sorted(self._slots, key=lambda k: self._slots[k].started)[:excess]:
                del self._slots[k]

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)


class RecentValues(Generic[T]):
    """A small map of values computed in the last ``keep`` seconds (at most
    ``max_entries``, the oldest dropped first), for values that depend only on their key:
    the encoded feed entry of a version (:func:`gateway.sync.feed_bundle.feed_bundle`)."""

    def __init__(
        self,
        *,
        keep: float = 2.0,
        max_entries: int = 8192,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keep = keep
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, T]] = {}  # in insertion order

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            found = self._values.get(key)
        if found is not None and now - found[0] <= self._keep:
            return found[1]
        value = compute()
        with self._lock:
            self._values.pop(key, None)
            self._values[key] = (now, value)
            self._prune(now)
        return value

    def _prune(self, now: float) -> None:
        """Oldest first (insertion order is age order): past ``max_entries`` or ``keep``."""
        while self._values:
            key, (at, _) = next(iter(self._values.items()))
            if len(self._values) <= self._max and now - at <= self._keep:
                return
            del self._values[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
