"""Feed callers woken together share the database reads, never the access decision, and
never a read older than their own need (gateway.sync.feed_share)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from gateway.access.context import AccessContext
from gateway.events.bus import CHANGES
from gateway.record.repository import Repository
from gateway.storage.changes import FeedPosition, read_changes
from gateway.sync.feed import FeedPage, read_feed, start_now
from gateway.sync.feed_share import SharedReads
from gateway.sync.runtime import SyncRuntime
from tests.contract.sync.conftest import (
    CONTEXT_A,
    CONTEXT_B,
    group,
    heart_rate,
    load_two_ehpads,
)


def _names(page: FeedPage) -> list[str]:
    return [
        f"{v.resource_type}/{v.id}" + (f"@{v.patient_id}" if v.patient_id else "")
        for v in page.versions
    ]


def _mark(runtime: SyncRuntime) -> Callable[[], str | None]:
    return lambda: runtime.bus.latest(CHANGES)


def _read(
    runtime: SyncRuntime,
    ctx: AccessContext,
    position: FeedPosition,
    share: SharedReads,
    since: float,
) -> FeedPage:
    return read_feed(
        Repository(ctx, runtime.services),
        position,
        types=None,
        limit=100,
        share=share,
        fresh_after=since,
        mark=_mark(runtime),
    )


def test_two_ehpads_woken_together_share_the_read_and_see_only_their_own(
    runtime: SyncRuntime,
) -> None:
    load_two_ehpads(runtime)
    share = SharedReads()
    since = share.now()
    page_a = _read(runtime, CONTEXT_A, FeedPosition(), share, since)
    ran = share.run
    page_b = _read(runtime, CONTEXT_B, FeedPosition(), share, since)
    assert ran and share.run == ran and share.shared >= 1, "B reused A's reads"
    a, b = _names(page_a), _names(page_b)
    assert "Patient/gaston@gaston" in a and "Group/ehpad-a" in a
    assert all("bruno" not in x and "alice" not in x and "ehpad-b" not in x for x in a)
    assert "Patient/bruno@bruno" in b and "Group/ehpad-b" in b
    assert all("gaston" not in x and "alice" not in x and "ehpad-a" not in x for x in b)
    alone_b = read_feed(
        Repository(CONTEXT_B, runtime.services), FeedPosition(), types=None, limit=100
    )
    assert _names(alone_b) == b, "sharing changes nothing in what B receives"
    assert page_a.caught_up and page_b.caught_up
    assert page_a.mark == page_b.mark == runtime.bus.latest(CHANGES)


def test_concurrent_callers_with_different_rights(runtime: SyncRuntime) -> None:
    load_two_ehpads(runtime)
    dev = Repository(AccessContext.dev_open(), runtime.services)
    with dev.writing() as w:
        for i in range(30):
            w.create(heart_rate("gaston" if i % 2 else "bruno", 60 + i))
    share = SharedReads()
    since = share.now()
    contexts = [CONTEXT_A, CONTEXT_B] * 4
    pages: dict[int, list[str]] = {}
    barrier = threading.Barrier(len(contexts))

    def follow(i: int) -> None:
        barrier.wait()
        got: list[str] = []
        position = FeedPosition()
        while True:
            page = _read(runtime, contexts[i], position, share, since)
            got += _names(page)
            position = page.position
            if page.caught_up:
                break
        pages[i] = got

    threads = [threading.Thread(target=follow, args=(i,)) for i in range(len(contexts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pages) == len(contexts)
    for i, ctx in enumerate(contexts):
        alone: list[str] = []
        position = FeedPosition()
        while True:
            page = read_feed(Repository(ctx, runtime.services), position, types=None, limit=100)
            alone += _names(page)
            position = page.position
            if page.caught_up:
                break
        assert pages[i] == alone
    a, b = pages[0], pages[1]
    assert sum(x.startswith("Observation/") for x in a) == 16
    assert all("bruno" not in x for x in a) and all("gaston" not in x for x in b)


def test_a_read_from_before_the_callers_need_is_not_reused(runtime: SyncRuntime) -> None:
    dev = load_two_ehpads(runtime)
    share = SharedReads()
    first = _read(runtime, CONTEXT_A, FeedPosition(), share, share.now())
    with dev.writing() as w:
        w.create(heart_rate("gaston", 99))
    # A caller whose need began before that read may be given it, with the mark taken
    # before it: the write published since then wakes its long-poll at once.
    ran = share.run
    early = _read(runtime, CONTEXT_A, FeedPosition(), share, 0.0)
    assert share.run == ran and _names(early) == _names(first)
    assert early.mark == first.mark != runtime.bus.latest(CHANGES)
    # A caller whose need began after the write gets a read of its own, with the write.
    late = _read(runtime, CONTEXT_A, FeedPosition(), share, share.now())
    assert share.run > ran
    assert len(late.versions) == len(first.versions) + 1
    assert late.versions[-1].resource_type == "Observation"
    assert late.mark == runtime.bus.latest(CHANGES)


def test_a_move_seen_by_callers_woken_together(runtime: SyncRuntime) -> None:
    dev = load_two_ehpads(runtime)
    share = SharedReads()
    since = share.now()
    at_a = _read(runtime, CONTEXT_A, FeedPosition(), share, since).position
    at_b = _read(runtime, CONTEXT_B, FeedPosition(), share, since).position
    with dev.writing() as w:
        w.update("Group", "ehpad-a", group("ehpad-a", []))
        w.update("Group", "ehpad-b", group("ehpad-b", ["bruno", "gaston"]))
    with dev.writing() as w:
        w.create(heart_rate("gaston", 90))
    since = share.now()
    after_a = _names(_read(runtime, CONTEXT_A, at_a, share, since))
    after_b = _names(_read(runtime, CONTEXT_B, at_b, share, since))
    assert after_a == ["Group/ehpad-a"]
    assert "Group/ehpad-b" in after_b and any(x.endswith("@gaston") for x in after_b)


def test_start_now_callers_together_read_on_together(runtime: SyncRuntime) -> None:
    dev = load_two_ehpads(runtime)
    share = SharedReads()
    since = share.now()
    now_a = start_now(Repository(CONTEXT_A, runtime.services), share, since)
    now_b = start_now(Repository(CONTEXT_B, runtime.services), share, since)
    assert now_a == now_b
    with dev.writing() as w:
        w.create(heart_rate("gaston", 91))
        w.create(heart_rate("bruno", 92))
    since = share.now()
    page_a = _read(runtime, CONTEXT_A, now_a, share, since)
    ran = share.run
    page_b = _read(runtime, CONTEXT_B, now_b, share, since)
    assert share.run == ran, "B reused A's reads"
    assert _names(page_a) == [f"Observation/{page_a.versions[0].id}@gaston"]
    assert _names(page_b) == [f"Observation/{page_b.versions[0].id}@bruno"]


def test_a_window_that_runs_out_reads_on(runtime: SyncRuntime) -> None:
    """A page that ended exactly at the end of a window resumes there; when the rest of
    that window is empty, the feed reads on into what was committed since (it does not
    report "caught up" and make a long-poll wait for the next commit)."""
    dev = load_two_ehpads(runtime)
    everything = read_feed(dev, FeedPosition(), types=None, limit=1000)
    n = len(everything.versions)
    assert everything.caught_up and n > 2
    page = read_feed(dev, FeedPosition(), types=None, limit=1000, scan_limit=n)
    assert len(page.versions) == n and not page.caught_up  # stopped by the scan limit
    with dev.writing() as w:
        w.create(heart_rate("gaston", 93))
    nxt = read_feed(dev, page.position, types=None, limit=1000)
    assert [v.resource_type for v in nxt.versions] == ["Observation"]
    assert nxt.caught_up


def test_read_changes_reads_on_past_an_empty_end_of_window(runtime: SyncRuntime) -> None:
    """A reader that saves its position only when it receives something (the subscription
    worker) is never left at the end of a window its last batch filled exactly."""
    dev = load_two_ehpads(runtime)
    with runtime.services.store.reader() as tx:
        n = len(read_changes(tx, FeedPosition(), types=None, limit=1000).versions)
        full = read_changes(tx, FeedPosition(), types=None, limit=n)
    assert len(full.versions) == n and not full.caught_up
    with dev.writing() as w:
        w.create(heart_rate("gaston", 94))
    with runtime.services.store.reader() as tx:
        nxt = read_changes(tx, full.position, types=None, limit=n)
    assert [v.resource_type for v in nxt.versions] == ["Observation"]
    assert nxt.caught_up
