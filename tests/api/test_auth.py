"""Bearer-token authentication over real HTTP: 401 for every bad token, replay refused,
the registry re-read when it changes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.auth import demo
from gateway.auth.dev import (
    client_entry,
    generate_private_jwk,
    public_jwk,
    sign_token,
    token_claims,
)
from gateway.cli.clients import add_client
from tests.support import LiveServer, fresh_sqlite, live_server, settings_for

AUD = "dmp-gateway-test"


@pytest.fixture
def secured(
    tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[LiveServer, dict[str, Any], Path]]:
    fresh_sqlite(sqlite_template, tmp_path)
    key = generate_private_jwk("Ed25519", kid="vendor-1")
    registry = tmp_path / "clients.yaml"
    add_client(
        registry,
        client_entry(
            "vendor",
            name="Vendor",
            role="vendor",
            structures=[demo.HOSPITAL],
            public_keys=[public_jwk(key)],
        ),
    )
    settings = settings_for(
        "sqlite", tmp_path, None, env="test", auth="enabled", audience=AUD, clients_file=registry
    )
    with live_server(create_app(settings)) as live:
        yield live, key, registry


def _token(key: dict[str, Any], **changes: Any) -> str:
    claims = token_claims(
        demo.PHYSICIAN.claims(), client_id="vendor", audience=AUD, now=int(time.time())
    )
    claims.update(changes)
    return sign_token({k: v for k, v in claims.items() if v is not None}, key)


def _get(live: LiveServer, token: str | None, path: str = "/fhir/Patient/x") -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(live.url + path, headers=headers)


def test_bad_tokens_get_401_with_an_outcome(
    secured: tuple[LiveServer, dict[str, Any], Path],
) -> None:
    live, key, _ = secured
    other = generate_private_jwk("Ed25519", kid="vendor-1")
    now = int(time.time())
    cases = {
        "missing": None,
        "garbage": "not.a.token",
        "other key": _token(other),
        "expired": _token(key, iat=now - 400, exp=now - 100),
        "too long": _token(key, exp=now + 3600),
        "wrong audience": _token(key, aud="someone-else"),
        "structure not allowed": _token(key, structure=demo.EHPAD),
        "oversized": _token(key, justification="x" * 9000),
    }
    for label, token in cases.items():
        r = _get(live, token)
        assert r.status_code == 401, label
        body = r.json()
        assert body["resourceType"] == "OperationOutcome", label
        assert body["issue"][0]["code"] == "login", label
        assert r.headers["www-authenticate"].startswith("Bearer"), label
        if token:
            assert token not in r.text, "a rejection never echoes the token"


def test_a_valid_token_is_accepted_once(secured: tuple[LiveServer, dict[str, Any], Path]) -> None:
    live, key, _ = secured
    token = _token(key, patient=demo.PATIENT_INS[0])
    first = _get(live, token)
    assert first.status_code == 404, "authenticated; nothing to see yet"
    again = _get(live, token)
    assert again.status_code == 401
    assert "replayed" in again.json()["issue"][0]["diagnostics"]


def test_metadata_is_public_and_everything_else_is_not(
    secured: tuple[LiveServer, dict[str, Any], Path],
) -> None:
    live, _, _ = secured
    metadata = _get(live, None, "/fhir/metadata")
    assert metadata.status_code == 200
    security = metadata.json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "OAuth"
    assert "Authorization: Bearer" in security["description"]
    assert _get(live, None, "/fhir/Patient").status_code == 401
    post = httpx.post(live.url + "/fhir/Patient", json={"resourceType": "Patient"})
    assert post.status_code == 401


def test_registry_changes_apply_without_restart(
    secured: tuple[LiveServer, dict[str, Any], Path],
) -> None:
    live, _, registry = secured
    newcomer = generate_private_jwk("ES256", kid="late-1")
    assert _get(live, _token(newcomer, iss="late")).status_code == 401
    add_client(
        registry,
        client_entry(
            "late",
            name="Late",
            role="vendor",
            structures=[demo.HOSPITAL],
            public_keys=[public_jwk(newcomer)],
        ),
    )
    time.sleep(1.1)
    claims = token_claims(
        demo.PHYSICIAN.claims(), client_id="late", audience=AUD, now=int(time.time())
    )
    assert _get(live, sign_token(claims, newcomer)).status_code == 404
