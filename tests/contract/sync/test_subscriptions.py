"""FHIR Subscriptions end to end on real databases, with a real HTTP receiver: matching
with the owner's rights, signed deliveries, retries with backoff, the dead letter, the
endpoint allowlist and no redirects."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
import pytest
from joserfc import jws
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from gateway.access.context import AccessContext
from gateway.config import Settings
from gateway.errors import Forbidden, NotFound, Unprocessable
from gateway.events.memory import MemoryBus
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage.sync_queue import deliveries_of
from gateway.sync.notices import LogNoticeSender
from gateway.sync.runtime import SyncRuntime
from gateway.sync.signing import NotificationSigner
from gateway.sync.worker import Worker
from tests.contract.sync.conftest import CONTEXT_A, CONTEXT_B, group, heart_rate, load_two_ehpads
from tests.sync_support import FakeClock, Receiver, sync_runtime

BASE_SECONDS = 10.0
HORIZON_SECONDS = 100.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _runtime(
    services: RecordServices, settings: Settings, clock: FakeClock, receiver: Receiver, **sync: Any
) -> SyncRuntime:
    options: dict[str, Any] = {
        "allowed_origins": [receiver.origin],
        "allow_private_addresses": True,
        "retry_base_seconds": BASE_SECONDS,
        "retry_max_seconds": 1000.0,
        "retry_horizon_seconds": HORIZON_SECONDS,
        "delivery_timeout": 5.0,
        **sync,
    }
    return sync_runtime(services, settings, MemoryBus(), clock=clock, **options)


@pytest.fixture
def runtime(
    services: RecordServices, settings: Settings, clock: FakeClock, receiver: Receiver
) -> Iterator[SyncRuntime]:
    made = _runtime(services, settings, clock, receiver)
    yield made
    made.close()


@pytest.fixture
def signer() -> NotificationSigner:
    return NotificationSigner.generate()


@pytest.fixture
def worker(runtime: SyncRuntime, signer: NotificationSigner) -> Iterator[Worker]:
    made = Worker(runtime, holder="w1", signer=signer, sender=LogNoticeSender())
    yield made
    made.close()


def subscription(endpoint: str, criteria: str = "Observation", **channel: Any) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Keep the resident files in step",
        "criteria": criteria,
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer receiver-secret"],
            **channel,
        },
    }


def subscribe(runtime: SyncRuntime, ctx: AccessContext, body: dict[str, Any]) -> str:
    with Repository(ctx, runtime.services).writing() as w:
        return w.create(body).version.id


def verify(signer: NotificationSigner, got: Any) -> dict[str, Any]:
    protected, empty, signature = got.headers["x-dmp-signature"].split(".")
    assert empty == ""
    payload = base64.urlsafe_b64encode(got.body).rstrip(b"=").decode()
    key = OKPKey.import_key(dict(signer.jwks()["keys"][0]))
    registry = JWSRegistry(algorithms=["Ed25519"], strict_check_header=False)
    result = jws.deserialize_compact(
        f"{protected}.{payload}.{signature}", key, algorithms=["Ed25519"], registry=registry
    )
    assert result.payload == got.body
    return dict(result.protected)


def test_create_sets_status_and_owner_and_refuses_bad_ones(
    runtime: SyncRuntime, receiver: Receiver
) -> None:
    sid = subscribe(runtime, CONTEXT_A, subscription(receiver.url()))
    with Repository(CONTEXT_A, runtime.services).reading() as r:
        stored = orjson.loads(r.read("Subscription", sid).content or b"{}")
    assert stored["status"] == "active"
    assert any("subscription-owner" in t["system"] for t in stored["meta"]["tag"])
    bad = [
        subscription("https://elsewhere.example/hook"),  # origin not allowed
        subscription(receiver.url(), criteria="Nonsense?x=1"),
        subscription(receiver.url(), criteria="Observation?not-a-param=1"),  # search refuses
        subscription(receiver.url(), criteria="Observation?_count=5"),
        subscription(receiver.url(), type="websocket"),
        subscription(receiver.url(), header=["Host: evil.example"]),
    ]
    for body in bad:
        with pytest.raises(Unprocessable):
            subscribe(runtime, CONTEXT_A, body)
    emergency = replace(CONTEXT_A, purpose_of_use="bris_de_glace", justification="x")
    with pytest.raises(Forbidden):
        subscribe(runtime, emergency, subscription(receiver.url()))


def test_only_the_owner_sees_and_manages_a_subscription(
    runtime: SyncRuntime, receiver: Receiver
) -> None:
    sid = subscribe(runtime, CONTEXT_A, subscription(receiver.url()))
    with Repository(CONTEXT_B, runtime.services).reading() as r, pytest.raises(NotFound):
        r.read("Subscription", sid)
    with Repository(CONTEXT_B, runtime.services).writing() as w, pytest.raises(NotFound):
        w.delete("Subscription", sid)
    with Repository(CONTEXT_A, runtime.services).writing() as w:
        assert w.delete("Subscription", sid).status == "deleted"


def test_notifications_follow_the_owners_rights_and_are_signed(
    runtime: SyncRuntime, worker: Worker, receiver: Receiver, signer: NotificationSigner
) -> None:
    dev = load_two_ehpads(runtime)
    worker.drain()  # the feed checkpoint starts at "now": earlier writes are not notified
    sid = subscribe(runtime, CONTEXT_A, subscription(receiver.url()))
    with dev.writing() as w:
        gaston = w.create(heart_rate("gaston", 99)).version
        w.create(heart_rate("bruno", 98))
        w.create(heart_rate("alice", 97))
    worker.drain()
    assert len(receiver.received) == 1, "only the resident of EHPAD A"
    got = receiver.received[0]
    header = verify(signer, got)
    event = f"Observation/{gaston.id}/_history/1"
    assert header["jti"] == event and header["sub"] == sid and header["htu"] == receiver.url()
    assert got.headers["x-dmp-event-id"] == event
    assert got.headers["authorization"] == "Bearer receiver-secret"
    body = orjson.loads(got.body)
    assert body["type"] == "history"
    assert body["entry"][0]["resource"]["subject"]["reference"] == "Patient/gaston"


def test_retries_with_backoff_then_delivers(
    runtime: SyncRuntime, worker: Worker, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.statuses = [500, 503, 200]
    dev = load_two_ehpads(runtime)
    worker.drain()
    sid = subscribe(runtime, CONTEXT_A, subscription(receiver.url()))
    with dev.writing() as w:
        w.create(heart_rate("gaston"))
    worker.drain()
    assert len(receiver.received) == 1
    worker.drain()
    assert len(receiver.received) == 1, "not retried before its backoff"
    clock.advance(BASE_SECONDS)
    worker.drain()
    assert len(receiver.received) == 2
    clock.advance(BASE_SECONDS)  # the second delay is twice the first
    worker.drain()
    assert len(receiver.received) == 2
    clock.advance(BASE_SECONDS)
    worker.drain()
    assert len(receiver.received) == 3
    ids = {r.headers["x-dmp-event-id"] for r in receiver.received}
    assert len(ids) == 1, "a retry carries the same event id"
    with runtime.services.store.reader() as tx:
        [job] = deliveries_of(tx, sid)
    assert (job.state, job.attempts) == ("delivered", 3)


def test_dead_letter_after_the_horizon(
    runtime: SyncRuntime, worker: Worker, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.statuses = [503]
    dev = load_two_ehpads(runtime)
    worker.drain()
    sid = subscribe(runtime, CONTEXT_A, subscription(receiver.url()))
    with dev.writing() as w:
        w.create(heart_rate("gaston"))
    for _ in range(20):
        worker.drain()
        clock.advance(BASE_SECONDS * 4)
    with runtime.services.store.reader() as tx:
        [job] = deliveries_of(tx, sid)
    assert job.state == "dead" and "503" in (job.last_error or "")
    attempts = len(receiver.received)
    assert 3 <= attempts <= 6, "exponential backoff within the horizon"
    with Repository(CONTEXT_A, runtime.services).reading() as r:
        stored = orjson.loads(r.read("Subscription", sid).content or b"{}")
    assert stored["status"] == "error" and "503" in stored["error"]
    with dev.writing() as w:
        w.create(heart_rate("gaston"))
    worker.drain()
    assert len(receiver.received) == attempts, "an errored subscription is not notified"


def test_redirects_are_not_followed(
    services: RecordServices,
    settings: Settings,
    clock: FakeClock,
    signer: NotificationSigner,
) -> None:
    elsewhere = Receiver()
    redirecting = Receiver([302], redirect_to=elsewhere.url("/stolen"))
    runtime = _runtime(services, settings, clock, redirecting)
    worker = Worker(runtime, holder="w", signer=signer, sender=LogNoticeSender())
    try:
        dev = load_two_ehpads(runtime)
        worker.drain()
        sid = subscribe(runtime, CONTEXT_A, subscription(redirecting.url()))
        with dev.writing() as w:
            w.create(heart_rate("gaston"))
        worker.drain()
        assert len(redirecting.received) == 1
        assert elsewhere.received == []
        with runtime.services.store.reader() as tx:
            [job] = deliveries_of(tx, sid)
        assert job.state == "pending" and "redirect" in (job.last_error or "")
    finally:
        worker.close()
        redirecting.close()
        elsewhere.close()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"allowed_origins": ["https://other.example"]}, "not in the allowed origins"),
        ({"allow_private_addresses": False}, "private"),
    ],
)
def test_no_delivery_to_a_disallowed_endpoint(
    services: RecordServices,
    settings: Settings,
    clock: FakeClock,
    receiver: Receiver,
    signer: NotificationSigner,
    change: dict[str, Any],
    reason: str,
) -> None:
    allowed = _runtime(services, settings, clock, receiver)
    dev = load_two_ehpads(allowed)
    sid = subscribe(allowed, CONTEXT_A, subscription(receiver.url()))
    tightened = _runtime(services, settings, clock, receiver, **change)
    worker = Worker(tightened, holder="w", signer=signer, sender=LogNoticeSender())
    try:
        worker.drain()
        with dev.writing() as w:
            w.create(heart_rate("gaston"))
        worker.drain()
        assert receiver.received == []
        with tightened.services.store.reader() as tx:
            jobs = deliveries_of(tx, sid)
        assert [j.state for j in jobs] == ["dead"] and reason in (jobs[0].last_error or "")
    finally:
        worker.close()


def test_a_moved_resident_notifies_the_new_ehpad_only(
    runtime: SyncRuntime, worker: Worker, receiver: Receiver
) -> None:
    dev = load_two_ehpads(runtime)
    worker.drain()
    subscribe(runtime, CONTEXT_A, subscription(receiver.url("/a")))
    subscribe(runtime, CONTEXT_B, subscription(receiver.url("/b")))
    with dev.writing() as w:
        w.update("Group", "ehpad-a", group("ehpad-a", []))
        w.update("Group", "ehpad-b", group("ehpad-b", ["bruno", "gaston"]))
    with dev.writing() as w:
        w.create(heart_rate("gaston"))
    worker.drain()
    assert [r.path for r in receiver.received] == ["/b"]


def test_the_same_event_is_queued_once_per_subscription(
    runtime: SyncRuntime, worker: Worker, receiver: Receiver, clock: FakeClock
) -> None:
    """A second worker re-reading the same batch (the first died before its ack, or the
    bus redelivered) adds no duplicate: deliveries are unique per subscription and event."""
    dev = load_two_ehpads(runtime)
    worker.drain()
    sid = subscribe(runtime, CONTEXT_A, subscription(receiver.url()))
    with dev.writing() as w:
        w.create(heart_rate("gaston"))
    with runtime.services.store.reader() as tx:
        from gateway.storage.sync_queue import checkpoint_row

        before = checkpoint_row(tx, "changes")
    worker.processor.run_once()
    with runtime.services.store.writer() as tx:  # rewind, as if the batch were not recorded
        from gateway.storage import schema as s

        assert before is not None
        tx.conn.execute(
            s.sync_checkpoint.update().values(position=before.position, holder=None, lease_until=0)
        )
    other = Worker(
        runtime, holder="w2", signer=NotificationSigner.generate(), sender=LogNoticeSender()
    )
    try:
        other.processor.run_once()
        worker.drain()
    finally:
        other.close()
    with runtime.services.store.reader() as tx:
        assert len(deliveries_of(tx, sid)) == 1
    assert len(receiver.received) == 1
