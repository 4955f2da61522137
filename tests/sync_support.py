"""Helpers for the sync tests (issue 8): buses, a Group-member indexer, sync runtimes.

Redis keys get a prefix unique to this checkout, test worker and run, so parallel test runs
of other checkouts on the same Redis server never see each other's streams; they are
deleted afterwards.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import redis

from gateway.config import Settings, SyncSettings
from gateway.events.bus import EventBus
from gateway.events.memory import MemoryBus
from gateway.events.redis_bus import RedisBus
from gateway.record.services import RecordServices
from gateway.sync.runtime import SyncRuntime, start_sync
from tests.support import REDIS_URL

CHECKOUT = hashlib.sha256(str(Path(__file__).resolve()).encode()).hexdigest()[:8]


def redis_prefix() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"dmpgw-test:{CHECKOUT}:{worker}:{uuid.uuid4().hex[:8]}"


def drop_redis_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def make_test_bus(kind: str, prefix: str, *, maxlen: int = 100_000) -> EventBus:
    if kind == "redis":
        return RedisBus(REDIS_URL, prefix=prefix, maxlen=maxlen)
    return MemoryBus(maxlen=maxlen)


def with_sync_settings(settings: Settings, **sync: Any) -> Settings:
    values = {**settings.sync.model_dump(), **sync}
    return settings.model_copy(update={"sync": SyncSettings(**values)})


def sync_runtime(
    services: RecordServices,
    settings: Settings,
    bus: EventBus,
    *,
    clock: Any = None,
    **sync: Any,
) -> SyncRuntime:
    settings = with_sync_settings(settings, **sync)
    base = replace(services, settings=settings)
    if clock is not None:
        base = replace(base, clock=clock)
    return start_sync(settings, base, bus=bus)


class FakeClock:
    """A clock the test moves (microseconds since the epoch), starting at the real now."""

    def __init__(self) -> None:
        import time

        self.now = time.time_ns() // 1000

    def __call__(self) -> int:
        self.now += 1  # versions of one resource never share an instant
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real HTTP server in a thread that records what it is sent.

    ``statuses`` are answered in turn (the last one repeats); ``redirect_to`` makes 3xx
    answers carry a ``Location``.
    """

    def __init__(self, statuses: list[int] | None = None, redirect_to: str | None = None) -> None:
        import http.server
        import threading

        self.statuses = list(statuses or [200])
        self.received: list[Received] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                if 300 <= status < 400 and redirect_to:
                    self.send_header("Location", redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str = "/hook") -> str:
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
