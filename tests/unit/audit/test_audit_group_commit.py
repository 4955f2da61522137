"""Group commit: every caller gets its own results or the batch's error, none is lost."""

from __future__ import annotations

import threading

import pytest

from gateway.storage.audit_group import GroupCommit


class Log:
    """A real in-memory sequencer that records how calls were batched."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.items: list[str] = []
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.gate = threading.Event()
        self.gate.set()

    def commit(self, batch: list[str]) -> list[int]:
        self.gate.wait()
        self.batches.append(batch)
        if self.fail_on in batch:
            raise RuntimeError("refused")
        start = len(self.items)
        self.items += batch
        return list(range(start, start + len(batch)))


def test_a_lone_call_is_its_own_batch() -> None:
    log = Log()
    group = GroupCommit(log.commit)
    assert group.submit(["a", "b"]) == [0, 1]
    assert group.submit(["c"]) == [2]
    assert log.batches == [["a", "b"], ["c"]]


def test_calls_queued_during_a_commit_share_the_next_one() -> None:
    log = Log()
    group = GroupCommit(log.commit)
    log.gate.clear()  # the first commit blocks until the others have queued
    results: dict[str, list[int]] = {}

    def call(name: str) -> None:
        results[name] = group.submit([name, name + "'"])

    first = threading.Thread(target=call, args=("lead",))
    first.start()
    while not group._busy:  # the leader is committing
        pass
    others = [threading.Thread(target=call, args=(f"t{i}",)) for i in range(5)]
    for t in others:
        t.start()
    while len(group._queue) < 5:
        pass
    log.gate.set()
    for t in [first, *others]:
        t.join()
    assert len(log.batches) == 2 and len(log.batches[1]) == 10
    for name, seqs in results.items():
        assert [log.items[s] for s in seqs] == [name, name + "'"]


def test_an_error_reaches_every_caller_of_the_batch_only() -> None:
    log = Log(fail_on="bad")
    group = GroupCommit(log.commit)
    with pytest.raises(RuntimeError, match="refused"):
        group.submit(["bad"])
    assert group.submit(["good"]) == [0]
    assert not group._busy


def test_many_threads_lose_nothing() -> None:
    log = Log()
    group = GroupCommit(log.commit)
    results: list[tuple[str, list[int]]] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(200):
            name = f"{i}-{j}"
            seqs = group.submit([name])
            with lock:
                results.append((name, seqs))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(log.items) == sorted(f"{i}-{j}" for i in range(8) for j in range(200))
    assert all(log.items[seqs[0]] == name for name, seqs in results)
    assert not group._busy and not group._queue
