"""One contract, two buses: the in-process bus and Redis Streams behave alike."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from gateway.events.bus import EventBus, entry_key
from tests.sync_support import drop_redis_prefix, make_test_bus, redis_prefix


@pytest.fixture(params=["memory", "redis"])
def bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    kind: str = request.param
    if kind == "redis":
        request.applymarker(pytest.mark.redis)
    prefix = redis_prefix()
    made = make_test_bus(kind, prefix)
    yield made
    made.close()
    if kind == "redis":
        drop_redis_prefix(prefix)


def test_publish_returns_growing_ids_and_latest(bus: EventBus) -> None:
    assert bus.latest("t") == "0-0"
    ids = [bus.publish("t", f"e{i}".encode()) for i in range(5)]
    ids += bus.publish_many("t", [b"e5", b"e6"])
    assert [entry_key(i) for i in ids] == sorted(entry_key(i) for i in ids)
    assert len(set(ids)) == 7
    assert bus.latest("t") == ids[-1]
    assert bus.length("t") == 7


def test_a_group_delivers_each_entry_once_across_consumers(bus: EventBus) -> None:
    bus.ensure_group("t", "g")
    for i in range(6):
        bus.publish("t", f"e{i}".encode())
    first = bus.read_group("t", "g", "c1", count=4)
    second = bus.read_group("t", "g", "c2", count=10)
    assert [e.data for e in first + second] == [f"e{i}".encode() for i in range(6)]
    assert bus.read_group("t", "g", "c1") == []


def test_groups_are_independent_and_start_at_the_beginning(bus: EventBus) -> None:
    bus.publish("t", b"before")
    bus.ensure_group("t", "a")
    bus.ensure_group("t", "a")  # idempotent
    bus.publish("t", b"after")
    got_a = [e.data for e in bus.read_group("t", "a", "x")]
    got_b = [e.data for e in bus.read_group("t", "b", "y")]  # created on first read
    assert got_a == [b"before", b"after"]
    assert got_b == [b"before", b"after"]


def test_unacknowledged_entries_are_redelivered_to_another_consumer(bus: EventBus) -> None:
    bus.ensure_group("t", "g")
    for i in range(3):
        bus.publish("t", f"e{i}".encode())
    taken = bus.read_group("t", "g", "dies", count=3)
    bus.ack("t", "g", [taken[0].id])
    assert bus.pending_count("t", "g") == 2
    claimed = bus.claim_stale("t", "g", "rescuer", min_idle_ms=0)
    assert [e.data for e in claimed] == [b"e1", b"e2"]
    bus.ack("t", "g", [e.id for e in claimed])
    assert bus.pending_count("t", "g") == 0
    assert bus.claim_stale("t", "g", "rescuer", min_idle_ms=0) == []


def test_entries_not_idle_long_enough_are_not_claimed(bus: EventBus) -> None:
    bus.ensure_group("t", "g")
    bus.publish("t", b"e")
    bus.read_group("t", "g", "busy")
    assert bus.claim_stale("t", "g", "other", min_idle_ms=3_600_000) == []
    assert bus.pending_count("t", "g") == 1


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_maxlen_bounds_the_topic(kind: str) -> None:
    prefix = redis_prefix()
    bounded = make_test_bus(kind, prefix, maxlen=100)
    try:
        bounded.publish_many("bounded", [str(i).encode() for i in range(1500)])
        # Redis trims whole nodes (MAXLEN ~): the bound is approximate, never exceeded by much.
        assert 100 <= bounded.length("bounded") <= 300
        assert bounded.latest("bounded") != "0-0"
    finally:
        bounded.close()
        if kind == "redis":
            drop_redis_prefix(prefix)


def test_a_dropped_topic_recreates_its_group_on_the_next_read(bus: EventBus) -> None:
    bus.ensure_group("t", "g")
    old = bus.publish("t", b"old")
    bus.read_group("t", "g", "c")
    bus.drop("t")
    assert bus.length("t") == 0
    new = bus.publish("t", b"new")
    # Ids never go back: Redis restarts them from the clock (milliseconds), ours count on.
    assert entry_key(new)[0] >= entry_key(old)[0]
    assert [e.data for e in bus.read_group("t", "g", "c")] == [b"new"]


def test_read_group_blocks_until_a_publish(bus: EventBus) -> None:
    bus.ensure_group("t", "g")
    timer = threading.Timer(0.05, lambda: bus.publish("t", b"late"))
    timer.start()
    try:
        got = bus.read_group("t", "g", "c", block_ms=10_000)
    finally:
        timer.join()
    assert [e.data for e in got] == [b"late"]


def test_wait_after_wakes_on_publish_and_times_out_otherwise(bus: EventBus) -> None:
    # The publisher may still be reading its reply when the wait wakes: it is joined
    # before the bus closes (closing under it failed the thread now and then).
    publisher = threading.Thread(target=bus.publish, args=("t", b"x"))

    async def scenario() -> tuple[bool, bool, bool]:
        try:
            mark = bus.latest("t")
            quiet = await bus.wait_after("t", mark, 0.05)
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, publisher.start)
            woken = await bus.wait_after("t", mark, 10)
            already = await bus.wait_after("t", mark, 0)
            return quiet, woken, already
        finally:
            await bus.aclose()
            if publisher.ident is not None:  # started
                publisher.join(timeout=10)

    quiet, woken, already = asyncio.run(scenario())
    assert quiet is False
    assert woken is True
    assert already is True, "an entry after the mark is seen at once"
