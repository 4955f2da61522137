"""The client registry: every system allowed to call the gateway, with its public keys.

Loaded from a YAML or JSON file in the data dir (``clients.yaml``)::

    clients:
      - id: demo-vendor                  # the token's iss
        name: Demo vendor software
        role: vendor                     # vendor | ehpad | auditor | admin
        structures: ["1750000010"]       # idNat_Struct the client may speak for
        rate_limit:                      # token buckets (gateway/auth/throttle.py)
          per_second: 50                 # the client as a whole (not ingestion)
          burst: 100
          professional: {per_second: 10, burst: 20}   # each caller (sub) of the client
          ingest: {per_second: 5, burst: 10}          # /ingest/*, batch and transaction
        group: null                      # Group id an ehpad system is bound to
        jwks: {keys: [{kty: OKP, crv: Ed25519, x: "...", kid: "..."}]}

Keys are public JWKs (RFC 7517): EC P-256 for ES256 or OKP Ed25519 for EdDSA, each with a
``kid`` unique across the registry. A private member (``d`` …) is refused: private keys
never belong in this file. :func:`parse_registry` is pure; :func:`load_registry` reads
the file; :func:`registry_document` gives back the document for the CLI to write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

ClientRole = Literal["vendor", "ehpad", "auditor", "admin"]
ROLES: tuple[ClientRole, ...] = ("vendor", "ehpad", "auditor", "admin")
KINDS_BY_ROLE: dict[str, frozenset[str]] = {
    "vendor": frozenset({"professional", "patient"}),
    "ehpad": frozenset({"system", "professional"}),
    "auditor": frozenset({"auditor"}),
    "admin": frozenset({"admin"}),
}
ALGORITHMS_BY_CURVE = {"P-256": frozenset({"ES256"}), "Ed25519": frozenset({"EdDSA", "Ed25519"})}
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
DEFAULT_INGEST_RATE = 5.0  # DOMAIN.md §6: 5 feeding transactions per second per establishment


class RegistryError(ValueError):
    """The registry document is malformed; the message names the path of the fault."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket: ``burst`` tokens, refilled at ``per_second``; a request takes one."""

    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A client's limits. ``per_second``/``burst`` are the client as a whole (reads and
    single writes); ``professional`` applies to each of its callers (the token's ``sub``)
    on top; ``ingest`` is a separate bucket for ingestion (``/ingest/*``, batch and
    transaction Bundles), so back-loading never eats the budget of reads."""

    per_second: float = 50.0
    burst: int = 100
    professional: Rate = Rate(10.0, 20)
    ingest: Rate = Rate(DEFAULT_INGEST_RATE, 10)


@dataclass(frozen=True, slots=True)
class ClientKey:
    kid: str
    algorithms: frozenset[str]
    jwk: Mapping[str, Any]  # the public JWK as configured
    key: ECKey | OKPKey = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    name: str
    role: ClientRole
    structures: frozenset[str]
    keys: tuple[ClientKey, ...]
    rate_limit: RateLimit = RateLimit()
    group: str | None = None

    @property
    def kinds(self) -> frozenset[str]:
        return KINDS_BY_ROLE[self.role]


@dataclass(frozen=True, slots=True)
class ClientRegistry:
    clients: Mapping[str, Client]

    def key(self, kid: str) -> tuple[Client, ClientKey] | None:
        """The client and key a ``kid`` names (kids are unique across the registry)."""
        for client in self.clients.values():
            for key in client.keys:
                if key.kid == kid:
                    return client, key
        return None

    def with_client(self, client: Client) -> ClientRegistry:
        """A registry with ``client`` added or replaced (``clients add``)."""
        clients = {k: v for k, v in self.clients.items() if k != client.id}
        clients[client.id] = client
        _check_unique_kids(clients.values())
        return replace(self, clients=clients)

    def without(self, client_id: str) -> ClientRegistry:
        """A registry without that client (``clients remove``)."""
        return replace(self, clients={k: v for k, v in self.clients.items() if k != client_id})


def _str(value: object, where: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(f"{where}: expected a non-empty string")
    return value


def parse_key(jwk: object, where: str) -> ClientKey:
    """One public JWK, checked (curve, kid, no private member) and imported."""
    if not isinstance(jwk, Mapping):
        raise RegistryError(f"{where}: expected a JWK object")
    private = PRIVATE_MEMBERS & set(jwk)
    if private:
        raise RegistryError(f"{where}: private key material {sorted(private)} is refused")
    kid = cast(str, _str(jwk.get("kid"), f"{where}.kid"))
    curve = jwk.get("crv")
    expected_kty = {"P-256": "EC", "Ed25519": "OKP"}.get(curve if isinstance(curve, str) else "")
    if expected_kty is None or jwk.get("kty") != expected_kty:
        raise RegistryError(f"{where}: only EC P-256 (ES256) and OKP Ed25519 (EdDSA) keys")
    algorithms = ALGORITHMS_BY_CURVE[cast(str, curve)]
    if "alg" in jwk and jwk["alg"] not in algorithms:
        raise RegistryError(f"{where}.alg: does not match the curve")
    if jwk.get("use", "sig") != "sig":
        raise RegistryError(f"{where}.use: must be 'sig'")
    # joserfc would refuse "EdDSA" against a key declared "Ed25519": we checked alg above.
    material = {k: v for k, v in jwk.items() if k not in ("alg", "use", "key_ops")}
    try:
        key: ECKey | OKPKey = (
            ECKey.import_key(material) if expected_kty == "EC" else OKPKey.import_key(material)
        )
    except (JoseError, ValueError, TypeError) as exc:
        raise RegistryError(f"{where}: not a valid public key") from exc
    return ClientKey(kid=kid, algorithms=algorithms, jwk=dict(jwk), key=key)


def _rate(value: object, where: str, default: Rate) -> Rate:
    if value is None:
        return default
    if not isinstance(value, Mapping):
        raise RegistryError(f"{where}: expected {{per_second, burst}}")
    per_second = value.get("per_second", default.per_second)
    burst = value.get("burst", default.burst)
    if isinstance(per_second, bool) or not isinstance(per_second, int | float) or per_second <= 0:
        raise RegistryError(f"{where}.per_second: expected a positive number")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise RegistryError(f"{where}.burst: expected a positive integer")
    return Rate(float(per_second), burst)


def _rate_limit(value: object, where: str) -> RateLimit:
    default = RateLimit()
    if value is None:
        return default
    whole = _rate(value, where, Rate(default.per_second, default.burst))
    assert isinstance(value, Mapping)
    return RateLimit(
        whole.per_second,
        whole.burst,
        professional=_rate(
            value.get("professional"), f"{where}.professional", default.professional
        ),
        ingest=_rate(value.get("ingest"), f"{where}.ingest", default.ingest),
    )


def parse_client(data: object, where: str = "client") -> Client:
    if not isinstance(data, Mapping):
        raise RegistryError(f"{where}: expected a mapping")
    client_id = cast(str, _str(data.get("id"), f"{where}.id"))
    role = data.get("role")
    if role not in ROLES:
        raise RegistryError(f"{where}.role: expected one of {', '.join(ROLES)}")
    structures = data.get("structures", [])
    if not isinstance(structures, list):
        raise RegistryError(f"{where}.structures: expected a list of idNat_Struct")
    jwks = data.get("jwks")
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise RegistryError(f"{where}.jwks.keys: expected a non-empty list of JWKs")
    group = _str(data.get("group"), f"{where}.group", optional=True)
    if role == "ehpad" and group is None:
        raise RegistryError(f"{where}.group: an ehpad client must be bound to a Group")
    return Client(
        id=client_id,
        name=cast(str, _str(data.get("name", client_id), f"{where}.name")),
        role=cast(ClientRole, role),
        structures=frozenset(
            cast(str, _str(s, f"{where}.structures[{i}]")) for i, s in enumerate(structures)
        ),
        keys=tuple(parse_key(k, f"{where}.jwks.keys[{i}]") for i, k in enumerate(keys)),
        rate_limit=_rate_limit(data.get("rate_limit"), f"{where}.rate_limit"),
        group=group,
    )


def _check_unique_kids(clients: Any) -> None:
    seen: set[str] = set()
    for client in clients:
        for key in client.keys:
            if key.kid in seen:
                raise RegistryError(f"client {client.id}: kid {key.kid!r} is already registered")
            seen.add(key.kid)


def parse_registry(data: object) -> ClientRegistry:
    if data is None:
        return ClientRegistry(clients={})
    if not isinstance(data, Mapping) or not isinstance(data.get("clients", []), list):
        raise RegistryError("clients: expected a list of clients")
    clients: dict[str, Client] = {}
    for i, raw in enumerate(data.get("clients", [])):
        client = parse_client(raw, f"clients[{i}]")
        if client.id in clients:
            raise RegistryError(f"clients[{i}].id: duplicate client id")
        clients[client.id] = client
    _check_unique_kids(clients.values())
    return ClientRegistry(clients=clients)


def client_document(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "role": client.role,
        "structures": sorted(client.structures),
        "rate_limit": rate_limit_document(client.rate_limit),
        "group": client.group,
        "jwks": {"keys": [dict(k.jwk) for k in client.keys]},
    }


def rate_limit_document(limit: RateLimit) -> dict[str, Any]:
    """``rate_limit`` as the registry file writes it."""
    return {
        "per_second": limit.per_second,
        "burst": limit.burst,
        "professional": {
            "per_second": limit.professional.per_second,
            "burst": limit.professional.burst,
        },
        "ingest": {"per_second": limit.ingest.per_second, "burst": limit.ingest.burst},
    }


def registry_document(registry: ClientRegistry) -> dict[str, Any]:
    """The document :func:`parse_registry` reads back (for ``clients add|remove``)."""
    return {"clients": [client_document(c) for c in registry.clients.values()]}


def load_registry(path: Path) -> ClientRegistry:
    """Read the registry file (``.json`` as JSON, anything else as YAML); none -> empty."""
    if not path.exists():
        return ClientRegistry(clients={})
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return parse_registry(data)
