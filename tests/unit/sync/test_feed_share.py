"""The feed's shared reads (pure: no database) and snapshot coverage."""

from __future__ import annotations

import threading

import pytest

from gateway.storage.changes import snapshot_covers
from gateway.sync.feed_share import RecentValues, SharedReads


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_read_begun_after_the_need_is_shared_with_its_mark() -> None:
    clock = Clock()
    share = SharedReads(clock=clock)
    calls: list[str] = []

    def again() -> str:
        calls.append("x")
        return "again"

    need = clock.t
    first = share.read("k", fresh_after=need, began=need, mark="m1", compute=lambda: "rows")
    clock.t += 0.01
    second = share.read("k", fresh_after=need, began=clock.t, mark="m2", compute=again)
    assert (first.value, first.mark, first.reused) == ("rows", "m1", False)
    assert (second.value, second.mark, second.reused) == ("rows", "m1", True)
    assert calls == []
    assert (share.run, share.shared) == (1, 1)


def test_a_read_begun_before_the_need_is_not_shared() -> None:
    clock = Clock()
    share = SharedReads(clock=clock)
    share.read("k", fresh_after=clock.t, began=clock.t, mark="m1", compute=lambda: "old")
    clock.t += 0.01
    later = share.read("k", fresh_after=clock.t, began=clock.t, mark="m2", compute=lambda: "new")
    assert (later.value, later.mark, later.reused) == ("new", "m2", False)


def test_a_caller_with_a_mark_is_given_only_a_read_that_has_one() -> None:
    # A caller that may wait on the mark must not receive a read made without one; a
    # caller without a mark (it will not wait) may receive either.
    clock = Clock()
    share = SharedReads(clock=clock)
    need = clock.t
    share.read("k", fresh_after=need, began=need, mark=None, compute=lambda: "unmarked")
    marked = share.read("k", fresh_after=need, began=need, mark="m1", compute=lambda: "marked")
    assert (marked.value, marked.mark, marked.reused) == ("marked", "m1", False)
    later = share.read("k", fresh_after=need, began=need, mark=None, compute=lambda: "other")
    assert (later.value, later.mark, later.reused) == ("marked", "m1", True)
    assert (share.run, share.shared) == (2, 1)


def test_keys_do_not_mix() -> None:
    clock = Clock()
    share = SharedReads(clock=clock)
    share.read(
        ("changes", "Observation"), fresh_after=0, began=clock.t, mark=None, compute=lambda: "o"
    )
    other = share.read(
        ("changes", "Patient"), fresh_after=0, began=clock.t, mark=None, compute=lambda: "p"
    )
    assert other.value == "p" and not other.reused


def test_a_failed_read_is_not_shared() -> None:
    clock = Clock()
    share = SharedReads(clock=clock)

    def fail() -> str:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        share.read("k", fresh_after=clock.t, began=clock.t, mark=None, compute=fail)
    again = share.read("k", fresh_after=clock.t, began=clock.t, mark=None, compute=lambda: "rows")
    assert (again.value, again.reused) == ("rows", False)


def test_callers_asking_together_run_one_read() -> None:
    share = SharedReads()
    release = threading.Event()
    computed: list[int] = []
    need = share.now()

    def compute() -> str:
        computed.append(1)
        release.wait(10)
        return "rows"

    results: list[str] = []

    def ask() -> None:
        results.append(
            share.read("k", fresh_after=need, began=need, mark=None, compute=compute).value
        )

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert results == ["rows"] * 5
    assert computed == [1]


def test_old_reads_are_dropped() -> None:
    clock = Clock()
    share = SharedReads(clock=clock, keep=1.0, max_entries=3)
    for i in range(3):
        share.read(i, fresh_after=0, began=clock.t, mark=None, compute=lambda: "v")
    assert len(share) == 3
    share.read(3, fresh_after=0, began=clock.t, mark=None, compute=lambda: "v")
    assert len(share) == 3  # the oldest went
    clock.t += 2.0
    share.read(4, fresh_after=0, began=clock.t, mark=None, compute=lambda: "v")
    assert len(share) == 1


def test_recent_values_are_computed_once_while_recent() -> None:
    clock = Clock()
    values: RecentValues[str] = RecentValues(clock=clock, keep=1.0, max_entries=2)
    calls: list[str] = []

    def compute(v: str) -> str:
        calls.append(v)
        return v

    assert values.get("a", lambda: compute("a1")) == "a1"
    assert values.get("a", lambda: compute("a2")) == "a1"
    clock.t += 2.0
    assert values.get("a", lambda: compute("a3")) == "a3"
    values.get("b", lambda: compute("b"))
    values.get("c", lambda: compute("c"))
    assert len(values) == 2
    assert calls == ["a1", "a3", "b", "c"]


@pytest.mark.parametrize(
    ("later", "earlier", "covers"),
    [
        ("10:10:", "10:10:", True),
        ("12:15:13", "10:12:10,11", True),  # 10, 11 finished since; 13 began after
        ("10:12:10", "10:12:10,11", True),
        ("10:12:10,11", "11:12:11", False),  # 10 was visible before, in progress now
        ("10:11:", "10:12:", False),  # an older xmax
        ("5:20:5,7", "8:9:", False),
        ("9:20:15", "8:9:", True),
    ],
)
def test_snapshot_covers(later: str, earlier: str, covers: bool) -> None:
    assert snapshot_covers(later, earlier) is covers


def test_snapshot_covers_refuses_malformed_snapshots() -> None:
    with pytest.raises(ValueError, match="malformed snapshot"):
        snapshot_covers("x:1:", "1:1:")
