"""The composition root wires sync: the worker inside the server (no Redis), and the
long-poll over Redis Streams between processes' worth of components."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.auth import demo
from gateway.events.bus import CHANGES
from gateway.events.redis_bus import RedisBus
from tests.demo_server import demo_gateway
from tests.support import REDIS_URL
from tests.sync_support import Receiver, drop_redis_prefix, redis_prefix

ALICE = demo.PATIENT_INS[0]


def _heart_rate() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/alice"},
        "valueQuantity": {
            "value": 64,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def test_the_worker_in_the_server_delivers(tmp_path: Path, sqlite_template: Path) -> None:
    receiver = Receiver()
    sync = {
        "worker_in_server": "on",
        "worker_poll_seconds": 0.2,
        "allowed_origins": [receiver.origin],
        "allow_private_addresses": True,
    }
    try:
        with demo_gateway(tmp_path, sqlite_template, sync=sync) as gw:
            subscription = {
                "resourceType": "Subscription",
                "status": "requested",
                "reason": "my record",
                "criteria": "Observation",
                "channel": {"type": "rest-hook", "endpoint": receiver.url()},
            }
            with gw.client("patient") as patient:
                assert patient.post("/Subscription", json=subscription).status_code == 201
            time.sleep(0.5)  # the worker's checkpoint starts after the subscription
            with gw.client("physician", patient=ALICE) as physician:
                created = physician.post("/Observation", json=_heart_rate())
                assert created.status_code == 201
            deadline = time.monotonic() + 60
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        receiver.close()
    [got] = receiver.received
    assert got.headers["x-dmp-event-id"] == f"Observation/{created.json()['id']}/_history/1"
    assert got.body == b"", "no payload asked: a ping"


@pytest.mark.redis
def test_long_poll_over_redis(tmp_path: Path, sqlite_template: Path) -> None:
    prefix = redis_prefix()
    sync = {"worker_in_server": "off", "stream_prefix": prefix}
    try:
        with demo_gateway(tmp_path, sqlite_template, sync=sync, redis_url=REDIS_URL) as gw:
            feed = gw.server.url + "/sync/changes"
            with gw.client("patient") as http:
                start = http.get(feed, params={"start": "now"}).json()
                nxt = next(link["url"] for link in start["link"] if link["relation"] == "next")
                cursor = parse_qs(urlsplit(nxt).query)["cursor"][0]
                result: dict[str, Any] = {}

                def poll() -> None:
                    answer = http.get(feed, params={"cursor": cursor, "wait": 20})
                    result["body"] = answer.json()

                thread = threading.Thread(target=poll)
                thread.start()
                time.sleep(0.3)
                with gw.client("physician", patient=ALICE) as physician:
                    created = physician.post("/Observation", json=_heart_rate())
                thread.join(30)
            bus = gw.server.app.state.sync.bus
            assert isinstance(bus, RedisBus) and bus.length(CHANGES) >= 1, "events went via Redis"
        entries = result["body"].get("entry", [])
        assert [e["resource"]["id"] for e in entries] == [created.json()["id"]]
    finally:
        drop_redis_prefix(prefix)
