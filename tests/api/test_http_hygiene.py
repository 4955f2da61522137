"""HTTP hygiene over real HTTP: security headers, the Server header, strict CORS, the
request timeout (and what it spares), /metrics and who may read it, graceful shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.responses import JSONResponse, StreamingResponse

from gateway.app import create_app
from gateway.config import Settings
from gateway.storage import schema as s
from gateway.storage.audit_head import read_head
from gateway.storage.sealing import open_audit
from tests.support import TEST_KEK, LiveServer, fresh_sqlite, live_server, settings_for

ORIGIN = "https://app.example"


def _settings(tmp_path: Path, sqlite_template: Path, **extra: Any) -> Settings:
    fresh_sqlite(sqlite_template, tmp_path)
    return settings_for("sqlite", tmp_path, None, **extra)


@pytest.fixture
def hardened(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    settings = _settings(
        tmp_path,
        sqlite_template,
        http={"cors_origins": [ORIGIN], "hsts_seconds": 31536000, "request_timeout": 0.5},
    )
    app = create_app(settings)
    _slow_routes(app)
    with live_server(app) as live:
        yield live
    RELEASE.set()


RELEASE = threading.Event()


def _slow_routes(app: FastAPI) -> None:
    """Test-only routes: one that answers only when released, one that streams."""

    async def stuck() -> JSONResponse:
        while not RELEASE.is_set():
            await asyncio.sleep(0.01)
        return JSONResponse({"late": True})

    async def streaming() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first;"
            await asyncio.sleep(1.0)  # past the 0.5 s timeout, after the first byte
            yield b"second"

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_api_route("/test/stuck", stuck)
    app.add_api_route("/test/stream", streaming)


def test_security_headers_on_data_and_errors(hardened: LiveServer) -> None:
    for path in ("/fhir/Patient?_count=1", "/fhir/Nope/1", "/healthz"):
        r = httpx.get(hardened.url + path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["content-security-policy"].startswith("default-src 'none'"), path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert r.headers["cache-control"] == "no-store", path
        assert r.headers["strict-transport-security"] == "max-age=31536000", path
        servers = r.headers.get_list("server")
        assert "dmp-gateway" in servers
        assert not any(ch.isdigit() for value in servers for ch in value), "no version"
        assert r.headers["x-request-id"]


def test_no_hsts_unless_configured(client: httpx.Client) -> None:
    assert "strict-transport-security" not in client.get("/metadata").headers


def test_cors_allows_only_the_configured_origin(hardened: LiveServer) -> None:
    preflight = {
        "origin": ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    ok = httpx.options(hardened.url + "/fhir/Patient", headers=preflight)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-credentials" not in ok.headers
    refused = httpx.options(
        hardened.url + "/fhir/Patient", headers=preflight | {"origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert "access-control-allow-origin" not in refused.headers
    simple = httpx.get(hardened.url + "/fhir/metadata", headers={"origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    other = httpx.get(hardened.url + "/fhir/metadata", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_capability_statement_says_cors_when_origins_are_configured(
    hardened: LiveServer,
) -> None:
    cs = httpx.get(hardened.url + "/fhir/metadata").json()
    assert cs["rest"][0]["security"]["cors"] is True


def test_no_cors_without_origins(client: httpx.Client) -> None:
    r = client.get("/metadata", headers={"origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers


def test_a_request_past_the_timeout_gets_a_503_outcome(hardened: LiveServer) -> None:
    RELEASE.clear()
    r = httpx.get(hardened.url + "/test/stuck", headers={"x-request-id": "slow-1"}, timeout=30)
    RELEASE.set()
    assert r.status_code == 503
    assert r.json()["issue"][0]["details"]["coding"][0]["code"] == "GW-5010"
    assert r.headers["x-request-id"] == "slow-1"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_started_response_and_a_long_poll_are_not_cut(hardened: LiveServer) -> None:
    streamed = httpx.get(hardened.url + "/test/stream", timeout=30)
    assert streamed.status_code == 200
    assert streamed.text == "first;second"
    poll = httpx.get(hardened.url + "/sync/changes?wait=1", timeout=30)
    assert poll.status_code == 200, "a long-poll gets its wait on top of the timeout"


def test_metrics_name_interactions_never_ids(client: httpx.Client, server: LiveServer) -> None:
    created = client.post(
        "/Patient",
        json={"resourceType": "Patient", "id": "ignored", "gender": "female"},
        headers={"content-type": "application/fhir+json"},
    )
    pid = created.json()["id"]
    assert client.get(f"/Patient/{pid}").status_code == 200
    assert client.get("/Patient/unique-missing-id-42").status_code == 404
    text = httpx.get(server.url + "/metrics").text
    assert 'gateway_http_requests_total{interaction="read",method="GET",status="200"}' in text
    assert 'gateway_http_requests_total{interaction="create",method="POST",status="201"}' in text
    assert 'gateway_http_request_duration_seconds_bucket{interaction="read",le="0.1"}' in text
    for name in (
        "gateway_quarantine_open",
        "gateway_audit_log_entries",
        "gateway_audit_checkpoint_age_seconds",
        "gateway_sync_deliveries_pending",
        "gateway_http_requests_in_flight",
    ):
        assert f"\n{name} " in text, name
    assert pid not in text
    assert "unique-missing-id-42" not in text


def test_metrics_are_closed_in_production_unless_configured(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # Production needs its keys on file: let a dev server make them first.
    with live_server(create_app(_settings(tmp_path, sqlite_template))):
        pass
    base: dict[str, Any] = {
        "env": "prod",
        "auth": "enabled",
        "audit": {"key_file": tmp_path / "audit-signing.key"},
        "sync": {
            "worker_in_server": "off",
            "signing_key_file": tmp_path / "sync-signing-key.json",
        },
        "crypto": {"kek": TEST_KEK, "index_key_file": tmp_path / "index.key"},
    }
    closed = _settings(tmp_path, sqlite_template, **base)
    with live_server(create_app(closed)) as live:
        assert httpx.get(live.url + "/metrics").status_code == 404
    token = "m" * 32
    tokened = _settings(tmp_path, sqlite_template, **base, telemetry={"metrics_token": token})
    with live_server(create_app(tokened)) as live:
        assert httpx.get(live.url + "/metrics").status_code == 401
        wrong = httpx.get(live.url + "/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = httpx.get(live.url + "/metrics", headers={"authorization": f"Bearer {token}"})
        assert right.status_code == 200
        assert "gateway_http_requests_total" in right.text


def test_shutdown_finishes_in_flight_requests_and_signs_the_log(
    tmp_path: Path, sqlite_template: Path
) -> None:
    app = create_app(_settings(tmp_path, sqlite_template))
    entered, release = threading.Event(), threading.Event()

    async def in_flight() -> JSONResponse:
        entered.set()
        while not release.is_set():
            await asyncio.sleep(0.01)
        return JSONResponse({"finished": True})

    app.add_api_route("/test/in-flight", in_flight)
    live = LiveServer(app)
    live.start()
    written = httpx.post(
        live.url + "/fhir/Patient",
        json={"resourceType": "Patient", "gender": "male"},
        headers={"content-type": "application/fhir+json"},
    )
    assert written.status_code == 201, "an audited write, not yet under a checkpoint"
    results: list[httpx.Response] = []
    caller = threading.Thread(
        target=lambda: results.append(httpx.get(live.url + "/test/in-flight", timeout=30))
    )
    caller.start()
    assert entered.wait(30)
    live.server.should_exit = True  # what SIGTERM does
    threading.Timer(0.3, release.set).start()  # finish while the server shuts down
    live.thread.join(30)
    caller.join(30)
    assert [r.json() for r in results] == [{"finished": True}], "the request was answered"
    engine = app.state.services.store.engine
    with engine.connect() as conn:
        head = read_head(conn, lock=False)
    assert head.size > 0
    assert head.checkpoint_size == head.size, "a last checkpoint covers every entry"


def test_the_request_id_is_honoured_returned_and_audited(
    client: httpx.Client, server: LiveServer
) -> None:
    r = client.get("/Patient/nobody", headers={"x-request-id": "trace-abc.1"})
    assert r.headers["x-request-id"] == "trace-abc.1"
    for unsafe in ("has space", "x" * 65, "semi;colon"):
        other = client.get("/Patient/nobody", headers={"x-request-id": unsafe})
        assert other.headers["x-request-id"] != unsafe
        assert len(other.headers["x-request-id"]) == 36, "a UUID instead"
    engine = server.app.state.services.store.engine
    with engine.connect() as conn:
        rows = conn.execute(select(s.audit_entry.c.seq, s.audit_entry.c.content)).all()
        contents = [open_audit(conn, row.seq, row.content) for row in rows]
    events = [orjson.loads(c) for c in contents]
    ids = [
        e["what"]["identifier"]["value"]
        for event in events
        for e in event.get("entity", [])
        if e.get("type", {}).get("code") == "XrequestId"
    ]
    assert "trace-abc.1" in ids
