"""A live gateway with authentication on, the demo clients and the demo record loaded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.app import create_app
from gateway.auth import demo
from gateway.auth.dev import sign_token, token_claims
from gateway.cli.demo import _client_for, ensure_demo_clients, load_demo_record
from gateway.config import Settings
from tests.support import LiveServer, fresh_sqlite, live_server, settings_for


@dataclass
class DemoGateway:
    server: LiveServer
    settings: Settings
    keys: dict[str, dict[str, Any]]

    def token(self, actor: str, **facts: Any) -> str:
        base = demo.ACTORS[actor].claims()
        base.update({k: v for k, v in facts.items() if v is not None})
        client = _client_for(base["kind"], base.get("structure"))
        claims = token_claims(
            base, client_id=client, audience=self.settings.audience, now=int(time.time())
        )
        return sign_token(claims, self.keys[client])

    def client(self, actor: str, **facts: Any) -> httpx.Client:
        """An HTTP client whose every request carries a fresh token of ``actor``."""
        gateway = self

        class FreshToken(httpx.Auth):
            def auth_flow(self, request: httpx.Request) -> Any:
                request.headers["Authorization"] = f"Bearer {gateway.token(actor, **facts)}"
                yield request

        return httpx.Client(base_url=self.server.url + "/fhir", auth=FreshToken(), timeout=60)


@contextmanager
def demo_gateway(tmp_path: Path, sqlite_template: Path, **extra: Any) -> Iterator[DemoGateway]:
    fresh_sqlite(sqlite_template, tmp_path)
    settings = settings_for("sqlite", tmp_path, None, env="dev", auth="enabled", **extra)
    keys = ensure_demo_clients(settings)
    load_demo_record(settings)
    with live_server(create_app(settings)) as live:
        yield DemoGateway(live, settings, keys)
