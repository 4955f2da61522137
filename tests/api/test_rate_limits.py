"""Rate limits over real HTTP with real tokens: a flooding client gets 429s (with
Retry-After, an OperationOutcome, an audit record and a metric) while another client,
another professional and the flooder's own reads keep being served.

Buckets refill at 0.001 token/s, so no token comes back during a test: the counts are
exact and nothing depends on timing. Both bucket stores run: per worker, and Redis
(a prefix of its own per test, since other runs share the Redis server).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from redis import Redis
from sqlalchemy import select

from gateway.app import create_app
from gateway.auth import demo
from gateway.auth.dev import (
    client_entry,
    generate_private_jwk,
    public_jwk,
    sign_token,
    token_claims,
)
from gateway.auth.registry import Rate, RateLimit
from gateway.cli.clients import add_client
from gateway.storage import schema as s
from gateway.storage.sealing import open_audit
from tests.support import REDIS_URL, LiveServer, fresh_sqlite, live_server, settings_for

AUD = "dmp-gateway-test"
SLOW = 0.001
BATCH = {
    "resourceType": "Bundle",
    "type": "batch",
    "entry": [{"request": {"method": "GET", "url": "Patient?_count=1"}}],
}
LIMITS = {
    # The flooder: 5 requests, 3 per professional, 2 ingestion posts.
    "flooder": RateLimit(SLOW, 5, professional=Rate(SLOW, 3), ingest=Rate(SLOW, 2)),
    "quiet": RateLimit(1000, 1000, professional=Rate(1000, 1000), ingest=Rate(1000, 1000)),
}


@dataclass
class Limited:
    server: LiveServer
    keys: dict[str, dict[str, Any]]

    def headers(self, client: str, actor: demo.DemoActor = demo.PHYSICIAN) -> dict[str, str]:
        claims = token_claims(actor.claims(), client_id=client, audience=AUD, now=int(time.time()))
        return {"authorization": f"Bearer {sign_token(claims, self.keys[client])}"}

    def read(
        self, client: str, actor: demo.DemoActor = demo.PHYSICIAN, **kw: Any
    ) -> httpx.Response:
        headers = self.headers(client, actor) | kw.pop("headers", {})
        return httpx.get(self.server.url + "/fhir/Patient?_count=1", headers=headers, **kw)

    def ingest(self, client: str) -> httpx.Response:
        return httpx.post(
            self.server.url + "/fhir",
            headers=self.headers(client) | {"content-type": "application/fhir+json"},
            content=orjson.dumps(BATCH),
        )


@pytest.fixture(params=["memory", "redis"])
def limited(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Limited]:
    fresh_sqlite(sqlite_template, tmp_path)
    registry = tmp_path / "clients.yaml"
    keys: dict[str, dict[str, Any]] = {}
    for client, limits in LIMITS.items():
        keys[client] = generate_private_jwk("Ed25519", kid=f"{client}-1")
        add_client(
            registry,
            client_entry(
                client,
                name=client,
                role="vendor",
                structures=[demo.HOSPITAL],
                public_keys=[public_jwk(keys[client])],
                limits=limits,
            ),
        )
    prefix = f"dmpgw-test-{uuid.uuid4().hex}"
    extra: dict[str, Any] = {}
    if request.param == "redis":
        extra["redis_url"] = REDIS_URL
    settings = settings_for(
        "sqlite",
        tmp_path,
        None,
        env="test",
        auth="enabled",
        audience=AUD,
        clients_file=registry,
        rate_limits={"enabled": True},
        sync={"worker_in_server": "off", "stream_prefix": prefix},
        **extra,
    )
    with live_server(create_app(settings)) as live:
        yield Limited(live, keys)
    if request.param == "redis":
        redis = Redis.from_url(REDIS_URL)
        for key in redis.scan_iter(f"{prefix}:*"):
            redis.delete(key)
        redis.close()


def test_a_flooding_client_is_refused_while_another_is_served(limited: Limited) -> None:
    flooder: list[int] = []
    quiet: list[int] = []
    for _ in range(12):
        flooder.append(limited.read("flooder", demo.PHYSICIAN).status_code)
        flooder.append(limited.read("flooder", demo.NURSE).status_code)
        quiet.append(limited.read("quiet").status_code)
    assert flooder.count(200) == 5, "the client's burst, shared by its professionals"
    assert flooder.count(429) == 19
    assert quiet == [200] * 12

    refused = limited.read("flooder")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "throttled"
    assert body["issue"][0]["details"]["coding"][0]["code"] == "GW-1029"


def test_each_professional_has_a_bucket_of_their_own(limited: Limited) -> None:
    physician = [limited.read("flooder", demo.PHYSICIAN).status_code for _ in range(5)]
    assert physician == [200, 200, 200, 429, 429]
    assert limited.read("flooder", demo.NURSE).status_code == 200, "a colleague still reads"


def test_ingestion_does_not_starve_reads(limited: Limited) -> None:
    posts = [limited.ingest("flooder").status_code for _ in range(5)]
    assert posts == [200, 200, 429, 429, 429]
    assert limited.read("flooder").status_code == 200, "reads have their own buckets"


def test_a_refusal_is_audited_with_its_request_id(limited: Limited) -> None:
    for _ in range(3):
        assert limited.read("flooder").status_code == 200
    first = limited.read("flooder", headers={"x-request-id": "flood-1"})
    assert first.status_code == 429
    assert first.headers["x-request-id"] == "flood-1"
    engine = limited.server.app.state.services.store.engine
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.audit_entry.c.seq, s.audit_entry.c.content).where(s.audit_entry.c.outcome == 4)
        ).all()
        events = [orjson.loads(open_audit(conn, r.seq, r.content)) for r in rows]
    limited_events = [e for e in events if e.get("outcomeDesc", "").startswith("GW-1029")]
    assert limited_events, "the 429 is in the audit log"
    event = limited_events[0]
    whats = [e["what"].get("identifier", {}).get("value") for e in event["entity"] if "what" in e]
    assert "flood-1" in whats
    detail = [d for e in event["entity"] for d in e.get("detail", [])]
    assert {"type": "operation", "valueString": "rate-limit:professional"} in detail
    assert event["agent"][0]["who"]["identifier"]["value"] == demo.PHYSICIAN.subject


def test_rejections_are_counted_in_metrics(limited: Limited) -> None:
    for _ in range(4):
        limited.read("flooder")
    text = httpx.get(limited.server.url + "/metrics").text
    assert 'gateway_rate_limit_rejections_total{client="flooder",scope="professional"} 1.0' in text
