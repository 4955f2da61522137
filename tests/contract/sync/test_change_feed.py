"""The change feed over real SQLite and PostgreSQL: every committed version exactly once,
in order per resource, resumable from any cursor, also under concurrent writers."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import pytest

from gateway.access.context import AccessContext
from gateway.errors import BadRequest
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage.changes import FeedPosition
from gateway.sync.feed import decode_cursor, encode_cursor, read_feed, start_now


def _basic(rid: str, text: str) -> dict[str, Any]:
    return {"resourceType": "Basic", "id": rid, "code": {"text": text}}


def _follow(
    repo: Repository, position: FeedPosition, *, limit: int, types: list[str] | None = None
) -> tuple[list[tuple[str, int, bool]], FeedPosition]:
    seen: list[tuple[str, int, bool]] = []
    while True:
        page = read_feed(repo, position, types=types, limit=limit)
        seen += [(f"{v.resource_type}/{v.id}", v.version, v.deleted) for v in page.versions]
        position = page.position
        if page.caught_up and not page.versions:
            return seen, position


def test_cursor_resumes_exactly_where_the_last_page_stopped(repo: Repository) -> None:
    for i in range(7):
        with repo.writing() as w:
            w.update("Basic", f"b{i}", _basic(f"b{i}", "v1"))
    with repo.writing() as w:
        w.update("Basic", "b0", _basic("b0", "v2"))
        w.delete("Basic", "b1")
    first = read_feed(repo, FeedPosition(), types=None, limit=3)
    assert len(first.versions) == 3 and not first.caught_up
    token = encode_cursor(repo, first.position, None)
    again = read_feed(repo, decode_cursor(repo, token, None), types=None, limit=3)
    replay = read_feed(repo, decode_cursor(repo, token, None), types=None, limit=3)
    assert [(v.id, v.version) for v in again.versions] == [
        (v.id, v.version) for v in replay.versions
    ], "a lost answer is read again whole: duplicates are one page at most, same ids"
    rest, _ = _follow(repo, decode_cursor(repo, token, None), limit=3)
    got = [(f"Basic/{v.id}", v.version, v.deleted) for v in first.versions] + rest
    expected = [(f"Basic/b{i}", 1, False) for i in range(7)]
    expected += [("Basic/b0", 2, False), ("Basic/b1", 2, True)]
    assert got == expected


def test_start_now_skips_the_past_and_types_filter(repo: Repository) -> None:
    with repo.writing() as w:
        w.update("Basic", "old", _basic("old", "x"))
    now = start_now(repo)
    with repo.writing() as w:
        w.update("Basic", "new", _basic("new", "x"))
        w.update("Patient", "p", {"resourceType": "Patient", "id": "p"})
    seen, _ = _follow(repo, now, limit=10)
    assert seen == [("Basic/new", 1, False), ("Patient/p", 1, False)]
    only, _ = _follow(repo, now, limit=10, types=["Patient"])
    assert only == [("Patient/p", 1, False)]


def test_cursors_are_bound_to_the_caller_and_the_filter(repo: Repository) -> None:
    token = encode_cursor(repo, FeedPosition(after=5), ["Patient"])
    assert decode_cursor(repo, token, ["Patient"]) == FeedPosition(after=5)
    other = Repository(AccessContext(kind="dev", client_id="someone-else"), repo.services)
    with pytest.raises(BadRequest):
        decode_cursor(other, token, ["Patient"])
    with pytest.raises(BadRequest):
        decode_cursor(repo, token, ["Observation"])
    body, tag = token.split(".")
    with pytest.raises(BadRequest):
        decode_cursor(repo, body[:-2] + "AA." + tag, ["Patient"])


def test_concurrent_writers_every_version_once_in_order(services: RecordServices) -> None:
    writers, resources, rounds = 4, 3, 8
    stop = threading.Event()
    errors: list[BaseException] = []
    follower = Repository(AccessContext.dev_open(), services)
    seen: list[tuple[str, int]] = []

    def write(i: int) -> None:
        own = Repository(AccessContext.dev_open(), services)
        try:
            for n in range(rounds):
                for r in range(resources):
                    rid = f"w{i}-r{r}"
                    with own.writing() as w:
                        w.update("Basic", rid, _basic(rid, f"{n}"))
        except BaseException as exc:  # inspected below
            errors.append(exc)

    def follow() -> None:
        position = FeedPosition()
        while True:
            done = stop.is_set()
            page = read_feed(follower, position, types=None, limit=5)
            seen.extend((v.id, v.version) for v in page.versions)
            position = page.position
            if done and page.caught_up and not page.versions:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    stop.set()
    reader.join(timeout=300)
    assert errors == []
    by_resource: dict[str, list[int]] = defaultdict(list)
    for rid, version in seen:
        by_resource[rid].append(version)
    assert len(by_resource) == writers * resources
    for versions in by_resource.values():
        assert versions == list(range(1, rounds + 1)), "each version once, in order"


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_row_committed_late_with_a_lower_seq_is_not_skipped(services: RecordServices) -> None:
    """The anomaly of "last seq seen": T1 inserts first (lower seq) and commits last."""
    follower = Repository(AccessContext.dev_open(), services)
    inserted, release, finished = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with Repository(AccessContext.dev_open(), services).writing() as w:
                w.update("Basic", "slow", _basic("slow", "x"))
                w.flush()  # the history row (and its seq) exists, uncommitted
                inserted.set()
                release.wait(60)
        except BaseException as exc:  # inspected below
            errors.append(exc)
        finally:
            finished.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(60)
    with follower.writing() as w:
        w.update("Basic", "fast", _basic("fast", "x"))
    first = read_feed(follower, FeedPosition(), types=None, limit=10)
    assert [v.id for v in first.versions] == ["fast"]
    slow_seq = None
    with follower.reading() as r:
        fast_seq = r.tx.current("Basic", "fast")
    release.set()
    thread.join(60)
    assert errors == [] and finished.is_set()
    with follower.reading() as r:
        history = r.tx.history(resource_type="Basic", limit=10)
        slow_seq = next(v.seq for v in history if v.id == "slow")
        fast_row = next(v.seq for v in history if v.id == "fast")
    assert fast_seq is not None and slow_seq is not None and fast_row is not None
    assert slow_seq < fast_row, "the slow writer got the lower sequence number"
    second = read_feed(follower, first.position, types=None, limit=10)
    assert [v.id for v in second.versions] == ["slow"]
    third = read_feed(follower, second.position, types=None, limit=10)
    assert third.versions == [] and third.caught_up
