"""Retry schedule of rest-hook deliveries: exponential backoff, then the dead letter.

Attempt n (1-based) that fails is retried ``base * 2**(n-1)`` seconds later, capped at
``cap``; when the next attempt would fall past ``horizon`` after the event was queued
(72 hours by default), the delivery is dead instead. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

SECOND = 1_000_000


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float  # seconds
    cap: float
    horizon: float

    def delay(self, attempts: int) -> int:
        """Microseconds to wait after the ``attempts``-th failed attempt."""
        seconds = min(self.cap, self.base * 2 ** min(attempts - 1, 60))
        return int(seconds * SECOND)

    def next_due(self, *, created: int, now: int, attempts: int) -> int | None:
        """When to try again, or None: past the horizon, dead-letter it."""
        due = now + self.delay(attempts)
        if due - created > int(self.horizon * SECOND):
            return None
        return due
