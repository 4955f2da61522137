"""Group commit for standalone appends: concurrent reads share one transaction.

Every read appends its audit entry in a transaction of its own and waits for the
commit (and, on SQLite, the WAL sync) before it may answer. Under concurrency those
commits queue on the sequencer one by one. With group commit, whoever finds no commit
in progress becomes the leader: it takes every entry queued so far, appends them all
in one transaction, wakes their owners, and hands leadership to the first owner that
queued meanwhile. A lone request pays exactly one transaction, as before; a burst of N
pays one transaction per round instead of N, and no thread polls a busy lock.

Each owner gets its own sequence numbers, or the batch's error (all of a batch's
entries commit together or not at all, which is what each owner needs to know).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class _Waiter(Generic[T]):
    __slots__ = ("error", "items", "lead", "result", "wake")

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self.wake = threading.Event()
        self.lead = False
        self.result: list[int] = []
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Batches concurrent calls of ``commit(items) -> seqs`` (one seq per item, in order)."""

    def __init__(self, commit: Callable[[list[T]], list[int]]) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._queue: list[_Waiter[T]] = []
        self._busy = False

    def submit(self, items: Sequence[T]) -> list[int]:
        """Commit ``items`` (with whatever else is queued); return their seqs."""
        me: _Waiter[T] = _Waiter(items)
        with self._lock:
            self._queue.append(me)
            leading = not self._busy
            self._busy = True
        if not leading:
            me.wake.wait()
        if leading or me.lead:
            self._lead()
        if me.error is not None:
            raise me.error
        return me.result

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            seqs = self._commit([item for w in batch for item in w.items])
        except BaseException as exc:
            for w in batch:
                w.error = exc
        else:
            start = 0
            for w in batch:
                w.result = seqs[start : start + len(w.items)]
                start += len(w.items)
        finally:
            with self._lock:
                if self._queue:  # hand over: the first to queue meanwhile leads next
                    successor = self._queue[0]
                    successor.lead = True
                    successor.wake.set()
                else:
                    self._busy = False
            for w in batch:
                w.wake.set()
