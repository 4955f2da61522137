"""Losing the bus or a worker loses nothing: the database is the source of truth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.config import Settings
from gateway.events.bus import CHANGES, NOTICES, EventBus
from gateway.events.model import PatientNotice
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage.changes import FeedPosition
from gateway.sync.feed import read_feed
from gateway.sync.notifier import GROUP, Notifier
from gateway.sync.signing import NotificationSigner
from gateway.sync.worker import Worker
from tests.contract.sync.conftest import CONTEXT_A, heart_rate, load_two_ehpads
from tests.contract.sync.test_subscriptions import subscribe, subscription
from tests.sync_support import (
    FakeClock,
    Receiver,
    drop_redis_prefix,
    make_test_bus,
    redis_prefix,
    sync_runtime,
)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    prefix = redis_prefix()
    made = make_test_bus(request.param, prefix)
    yield made
    made.close()
    if request.param == "redis":
        drop_redis_prefix(prefix)


class ListSender:
    def __init__(self, fail: int = 0) -> None:
        self.sent: list[PatientNotice] = []
        self.fail = fail

    def send(self, notice: PatientNotice) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("the mail relay is down")
        self.sent.append(notice)


def test_a_stopped_worker_and_a_deleted_stream_lose_no_notification(
    services: RecordServices, settings: Settings, bus: EventBus
) -> None:
    receiver, clock = Receiver(), FakeClock()
    options: dict[str, Any] = {
        "allowed_origins": [receiver.origin],
        "allow_private_addresses": True,
        "lease_seconds": 60.0,
    }
    runtime = sync_runtime(services, settings, bus, clock=clock, **options)
    first = Worker(
        runtime, holder="first", signer=NotificationSigner.generate(), sender=ListSender()
    )
    second = Worker(
        runtime, holder="second", signer=NotificationSigner.generate(), sender=ListSender()
    )
    follower = Repository(CONTEXT_A, runtime.services)
    try:
        dev = load_two_ehpads(runtime)
        first.drain()
        subscribe(runtime, CONTEXT_A, subscription(receiver.url()))
        with dev.writing() as w:
            for i in range(3):
                w.create(heart_rate("gaston", 60 + i))
        first.processor.run_once(limit=2)  # mid-stream: one batch, then the worker stops
        bus.drop(CHANGES)  # and Redis loses the stream
        with dev.writing() as w:
            for i in range(3):
                w.create(heart_rate("gaston", 70 + i))
        second.drain()
        assert receiver.received == [] or len(receiver.received) <= 2
        clock.advance(61)  # the first worker's lease runs out; the second takes over
        second.drain()
        events = [r.headers["x-dmp-event-id"] for r in receiver.received]
        assert len(events) == 6 and len(set(events)) == 6, "every version once"
        page = read_feed(follower, FeedPosition(), types=["Observation"], limit=100)
        assert len(page.versions) == 7, "the feed reads the database, not the bus"
    finally:
        first.close()
        second.close()
        receiver.close()
        runtime.close()


def test_a_worker_stopped_gracefully_hands_the_feed_over_at_once(
    services: RecordServices, settings: Settings, bus: EventBus
) -> None:
    """Its lease is given back on close: the next worker leads at its next poll, not when
    the lease runs out (deliveries stalled for the lease's length after a restart)."""
    clock = FakeClock()
    runtime = sync_runtime(services, settings, bus, clock=clock, lease_seconds=60.0)
    first = Worker(runtime, holder="first", signer=NotificationSigner.generate())
    second = Worker(runtime, holder="second", signer=NotificationSigner.generate())
    try:
        dev = load_two_ehpads(runtime)
        first.drain()
        assert first.processor.holds_lease
        with dev.writing() as w:
            w.create(heart_rate("gaston", 60))
        assert second.processor.run_once() == 0 and not second.processor.holds_lease
        first.close()  # a graceful stop; no time passes
        assert second.processor.run_once() == 1 and second.processor.holds_lease
    finally:
        second.close()
        runtime.close()


def test_an_unacknowledged_notice_goes_to_another_notifier_once(
    services: RecordServices, settings: Settings, bus: EventBus
) -> None:
    notice = PatientNotice(id="n1", kind="emergency-access", patient="alice", time=1)
    bus.publish(NOTICES, notice.encode())
    bus.publish(NOTICES, notice.encode())  # a duplicate on the bus
    crashed = bus.read_group(NOTICES, GROUP, "crashed")  # read, then the worker died
    assert len(crashed) == 2
    sender = ListSender(fail=1)
    rescuer = Notifier(services, bus, sender, holder="rescuer", claim_idle_ms=0)
    assert rescuer.run_once() == 1, "the first attempt failed, the duplicate was sent"
    assert rescuer.run_once() == 0, "already sent: acknowledged without sending"
    assert [n.id for n in sender.sent] == ["n1"]
    assert bus.pending_count(NOTICES, GROUP) == 0
