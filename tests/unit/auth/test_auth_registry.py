"""The client registry file and the replay guard."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.auth import (
    ClientRegistry,
    InMemoryReplayGuard,
    RegistryError,
    load_registry,
    parse_client,
    parse_registry,
    registry_document,
)
from gateway.auth.dev import client_entry, generate_private_jwk, public_jwk

EXAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "tokens" / "clients.example.yaml"


def test_example_registry_loads() -> None:
    registry = load_registry(EXAMPLE)
    assert set(registry.clients) == {"example-vendor", "example-ehpad", "example-audit"}
    vendor = registry.clients["example-vendor"]
    assert vendor.kinds == {"professional", "patient"}
    assert vendor.rate_limit.per_second == 20
    assert registry.clients["example-ehpad"].group == "ehpad-residents"
    found = registry.key("example-ehpad-1")
    assert found is not None
    assert found[0].id == "example-ehpad"
    assert found[1].algorithms == {"ES256"}
    assert registry.key("nope") is None


def test_round_trip_through_the_document(tmp_path: Path) -> None:
    registry = load_registry(EXAMPLE)
    document = registry_document(registry)
    assert parse_registry(document) == registry
    as_json = tmp_path / "clients.json"
    as_json.write_text(json.dumps(document))
    assert load_registry(as_json) == registry
    as_yaml = tmp_path / "clients.yaml"
    as_yaml.write_text(yaml.safe_dump(document))
    assert load_registry(as_yaml) == registry


def test_missing_or_empty_file_is_an_empty_registry(tmp_path: Path) -> None:
    assert load_registry(tmp_path / "absent.yaml").clients == {}
    (tmp_path / "empty.yaml").write_text("")
    assert load_registry(tmp_path / "empty.yaml").clients == {}


def test_add_and_remove() -> None:
    registry = load_registry(EXAMPLE)
    key = public_jwk(generate_private_jwk("Ed25519", kid="new-1"))
    client = parse_client(
        client_entry("new", name="New", role="vendor", structures=["1"], public_keys=[key])
    )
    grown = registry.with_client(client)
    assert "new" in grown.clients
    assert "new" not in registry.clients  # registries are immutable
    assert grown.without("new") == registry
    clash = parse_client(
        client_entry(
            "other",
            name="O",
            role="vendor",
            structures=[],
            public_keys=[{**key, "kid": "example-vendor-1"}],
        )
    )
    with pytest.raises(RegistryError, match="already registered"):
        registry.with_client(clash)


def _document() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _key(data: dict[str, Any]) -> dict[str, Any]:
    key = data["clients"][0]["jwks"]["keys"][0]
    assert isinstance(key, dict)
    return key


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(clients={}), "list of clients"),
        (lambda d: d["clients"][0].pop("id"), r"clients\[0\]\.id"),
        (lambda d: d["clients"][1].update(id="example-vendor"), "duplicate client id"),
        (lambda d: d["clients"][0].update(role="root"), "role"),
        (lambda d: d["clients"][1].update(group=None), "bound to a Group"),
        (lambda d: d["clients"][0].update(structures="1750000010"), "structures"),
        (lambda d: d["clients"][0]["structures"].append(""), r"structures\[3\]"),
        (lambda d: d["clients"][0].update(jwks={"keys": []}), "non-empty list"),
        (lambda d: _key(d).update(d="c2VjcmV0"), "private key material"),
        (lambda d: _key(d).pop("kid"), "kid"),
        (lambda d: _key(d).update(crv="Ed448", kty="OKP"), "only EC P-256"),
        (lambda d: _key(d).update(kty="EC"), "only EC P-256"),
        (lambda d: _key(d).update(alg="ES256"), "alg"),
        (lambda d: _key(d).update(use="enc"), "use"),
        (lambda d: _key(d).update(x="not-a-point!"), "not a valid public key"),
        (
            lambda d: d["clients"][1]["jwks"]["keys"][0].update(kid="example-vendor-1"),
            "already registered",
        ),
        (lambda d: d["clients"][0].update(rate_limit={"per_second": 0}), "per_second"),
        (lambda d: d["clients"][0].update(rate_limit={"burst": True}), "burst"),
        (lambda d: d["clients"][0].update(rate_limit=5), "rate_limit"),
    ],
)
def test_registry_errors_name_the_fault(mutate: Any, message: str) -> None:
    data = copy.deepcopy(_document())
    mutate(data)
    with pytest.raises(RegistryError, match=message):
        parse_registry(data)


def test_es256_key_with_the_wrong_coordinates_is_refused() -> None:
    data = copy.deepcopy(_document())
    key = data["clients"][1]["jwks"]["keys"][0]
    key["y"] = key["x"]  # not on the curve
    with pytest.raises(RegistryError, match="not a valid public key"):
        parse_registry(data)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_replay_guard_marks_once_and_forgets_after_expiry() -> None:
    clock = Clock(1000)
    guard = InMemoryReplayGuard(clock=clock, grace=60)
    assert guard.seen("c:j1", 1100) is False
    assert guard.seen("c:j1", 1100) is True
    assert guard.seen("c:j2", 1100) is False
    clock.now = 1159
    assert guard.seen("c:j1", 1100) is True  # still within exp + grace
    clock.now = 1161
    assert guard.seen("c:j1", 1300) is False  # forgotten: the token itself is dead
    clock.now = 2000
    guard.seen("c:j3", 2100)
    assert len(guard) == 1  # expired entries were purged


def test_replay_guard_is_atomic_across_threads() -> None:
    guard = InMemoryReplayGuard(clock=lambda: 0)
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def attempt() -> None:
        barrier.wait()
        results.append(guard.seen("c:same", 100))

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] + [True] * 15


def test_registry_is_frozen() -> None:
    registry: ClientRegistry = load_registry(EXAMPLE)
    with pytest.raises(AttributeError):
        registry.clients = {}  # type: ignore[misc]
