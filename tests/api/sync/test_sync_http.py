"""``/sync`` and the sync FHIR interactions over real HTTP, with demo tokens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from gateway.app import build_services
from gateway.auth import demo
from gateway.record.repository import Repository
from gateway.sync.runtime import SyncRuntime
from gateway.sync.worker import Worker
from tests.demo_server import DemoGateway, demo_gateway
from tests.sync_support import Receiver

ALICE = demo.PATIENT_INS[0]
OTHER_PATIENTS = ("Patient/bruno", "Patient/chloe", "Patient/gaston")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, receiver: Receiver
) -> Iterator[DemoGateway]:
    sync = {
        "worker_in_server": "off",
        "allowed_origins": [receiver.origin],
        "allow_private_addresses": True,
        "feed_max_wait": 30,
    }
    with demo_gateway(tmp_path_factory.mktemp("sync-http"), sqlite_template, sync=sync) as gateway:
        yield gateway


def _runtime(gw: DemoGateway) -> SyncRuntime:
    runtime: SyncRuntime = gw.server.app.state.sync
    return runtime


def _site(gw: DemoGateway) -> str:
    return gw.server.url


def _follow(http: httpx.Client, url: str) -> tuple[list[dict[str, Any]], str]:
    entries: list[dict[str, Any]] = []
    while True:
        body = http.get(url).json()
        assert body["resourceType"] == "Bundle" and body["type"] == "history"
        entries += body.get("entry", [])
        nxt = next(link["url"] for link in body["link"] if link["relation"] == "next")
        if not body.get("entry"):
            return entries, nxt
        url = nxt


def test_a_patient_follows_their_own_record(gw: DemoGateway) -> None:
    with gw.client("patient") as http:
        entries, _ = _follow(http, _site(gw) + "/sync/changes?limit=3")
    text = orjson.dumps(entries).decode()
    assert '"Patient/alice"' in text or "Patient/alice" in text
    assert not any(p in text for p in OTHER_PATIENTS), "nothing of other patients"
    kinds = {e["fullUrl"].split("/")[-2] for e in entries}
    assert "Patient" in kinds and "DocumentReference" in kinds
    assert all(e["request"]["method"] in ("POST", "PUT", "DELETE") for e in entries)


def test_cursor_errors_and_parameters(gw: DemoGateway) -> None:
    with gw.client("patient") as patient:
        body = patient.get(_site(gw) + "/sync/changes", params={"limit": 1}).json()
        nxt = next(link["url"] for link in body["link"] if link["relation"] == "next")
        cursor = parse_qs(urlsplit(nxt).query)["cursor"][0]
        assert (
            patient.get(_site(gw) + "/sync/changes", params={"cursor": cursor}).status_code == 200
        )
        bad = patient.get(_site(gw) + "/sync/changes", params={"cursor": cursor[:-3] + "xyz"})
        assert bad.status_code == 400
        assert patient.get(_site(gw) + "/sync/changes", params={"limit": 0}).status_code == 400
        assert patient.get(_site(gw) + "/sync/changes", params={"wait": 999}).status_code == 400
        assert patient.get(_site(gw) + "/sync/changes", params={"since": "x"}).status_code == 400
        assert patient.get(_site(gw) + "/sync/changes", params={"_type": "Nope"}).status_code == 400
    with gw.client("physician", patient=ALICE) as physician:
        foreign = physician.get(_site(gw) + "/sync/changes", params={"cursor": cursor})
        assert foreign.status_code == 400, "a cursor belongs to its caller"
    assert httpx.get(_site(gw) + "/sync/changes").status_code == 401


def test_long_poll_returns_when_something_new_is_visible(gw: DemoGateway) -> None:
    with gw.client("patient") as http:
        now = http.get(_site(gw) + "/sync/changes", params={"start": "now", "wait": 0.1}).json()
        assert "entry" not in now
        nxt = next(link["url"] for link in now["link"] if link["relation"] == "next")
        assert parse_qs(urlsplit(nxt).query)["wait"] == ["0.1"], "the next link keeps wait"
        cursor = parse_qs(urlsplit(nxt).query)["cursor"][0]
        result: dict[str, Any] = {}

        def poll() -> None:
            answer = http.get(_site(gw) + "/sync/changes", params={"cursor": cursor, "wait": 20})
            result["body"] = answer.json()

        thread = threading.Thread(target=poll)
        thread.start()
        time.sleep(0.3)
        with gw.client("physician", patient=ALICE) as physician:
            created = physician.post("/Observation", json=_heart_rate(61))
            assert created.status_code == 201, created.text
        thread.join(30)
    entries = result["body"].get("entry", [])
    assert [e["resource"]["id"] for e in entries] == [created.json()["id"]]


def test_without_redis_a_long_poll_sees_another_process_commit_within_a_poll(
    gw: DemoGateway,
) -> None:
    """The in-process bus never hears of the commits of an MLLP listener, the CLI or the
    worker: the long-poll reads the database again each second, so such a commit is
    answered long before the 20 s wait ends (here from a second set of services on the
    same database, as another process would be)."""
    assert not _runtime(gw).bus.shared
    other = build_services(gw.settings)  # its own in-process bus, as in another process
    try:
        with gw.client("patient") as http:
            now = http.get(_site(gw) + "/sync/changes", params={"start": "now"}).json()
            nxt = next(link["url"] for link in now["link"] if link["relation"] == "next")
            cursor = parse_qs(urlsplit(nxt).query)["cursor"][0]
            result: dict[str, Any] = {}

            def poll() -> None:
                answer = http.get(
                    _site(gw) + "/sync/changes", params={"cursor": cursor, "wait": 20}
                )
                result["body"] = answer.json()

            thread = threading.Thread(target=poll)
            thread.start()
            time.sleep(0.3)
            ctx = demo.PHYSICIAN.context(client_id="demo-vendor", patient=ALICE)
            with Repository(ctx, other).writing() as writer:
                written = writer.create(_heart_rate(62)).version.id
            thread.join(10)
            assert not thread.is_alive(), "answered at the next poll, not at the end of wait"
    finally:
        other.store.engine.dispose()
    entries = result["body"].get("entry", [])
    assert [e["resource"]["id"] for e in entries] == [written]


def _heart_rate(value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/alice"},
        "valueQuantity": {
            "value": value,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def test_jwks_is_public(gw: DemoGateway) -> None:
    keys = httpx.get(_site(gw) + "/sync/jwks").json()["keys"]
    assert [(k["kty"], k["crv"], k["alg"]) for k in keys] == [("OKP", "Ed25519", "Ed25519")]
    assert "d" not in keys[0]


def test_subscriptions_over_fhir(gw: DemoGateway, receiver: Receiver) -> None:
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "my record",
        "criteria": "Observation",
        "channel": {"type": "rest-hook", "endpoint": "https://not-allowed.example/x"},
    }
    with gw.client("patient") as patient:
        refused = patient.post("/Subscription", json=body)
        assert refused.status_code == 422
        assert refused.json()["issue"][0]["expression"] == ["Subscription.channel.endpoint"]
        body["channel"]["endpoint"] = receiver.url("/alice")
        created = patient.post("/Subscription", json=body)
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        assert created.json()["status"] == "active"
        assert patient.get(f"/Subscription/{sid}").status_code == 200
    with gw.client("physician", patient=ALICE) as physician:
        assert physician.get(f"/Subscription/{sid}").status_code == 404
        assert physician.delete(f"/Subscription/{sid}").status_code == 404
    with gw.client("patient") as patient:
        assert patient.delete(f"/Subscription/{sid}").status_code == 204


def test_bulk_export_over_http(gw: DemoGateway) -> None:
    runtime = _runtime(gw)
    with gw.client("patient") as patient:
        refused = patient.get("/Patient/$export")
        assert refused.status_code == 400, "Prefer: respond-async is required"
        kicked = patient.get("/Patient/$export", headers={"prefer": "respond-async"})
        assert kicked.status_code == 202
        status_url = kicked.headers["content-location"]
        first = patient.get(status_url)
        assert first.status_code == 202 and first.headers["x-progress"]
        worker = Worker(runtime, holder="http-test")
        try:
            worker.drain()
        finally:
            worker.close()
        done = patient.get(status_url)
        assert done.status_code == 200
        manifest = done.json()
        assert manifest["requiresAccessToken"] is True
        outputs = {o["type"]: o for o in manifest["output"]}
        assert "Patient" in outputs
        ndjson = patient.get(outputs["Patient"]["url"])
        assert ndjson.status_code == 200
        assert ndjson.headers["content-type"].startswith("application/fhir+ndjson")
        ids = [orjson.loads(line)["id"] for line in ndjson.content.splitlines()]
        assert ids == ["alice"]
    with gw.client("physician", patient=ALICE) as physician:
        assert physician.get(status_url).status_code == 404
        assert physician.get(outputs["Patient"]["url"]).status_code == 404
    with gw.client("patient") as patient:
        assert patient.delete(status_url).status_code == 202
        assert patient.get(status_url).status_code == 404
        assert patient.get(outputs["Patient"]["url"]).status_code == 404
    job = status_url.rsplit("/", 1)[1]
    assert not (runtime.exports.root / job).exists()
