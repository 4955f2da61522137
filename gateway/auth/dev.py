"""Development helpers: demo client keys and signed tokens (``dmp-gateway token``, tests).

Never used on the request path. Private keys made here are for demo clients only; the
gateway itself only ever holds public keys (:mod:`gateway.auth.registry`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, import_key, thumbprint

from gateway.auth.registry import PRIVATE_MEMBERS, ClientRole, RateLimit, rate_limit_document
from gateway.auth.verify import TokenJWSRegistry

KeyAlgorithm = Literal["Ed25519", "ES256"]


def generate_private_jwk(
    algorithm: KeyAlgorithm = "Ed25519", kid: str | None = None
) -> dict[str, Any]:
    """A new private JWK (OKP Ed25519 or EC P-256) with a ``kid`` (RFC 7638 thumbprint by
    default) and its ``alg``."""
    key: ECKey | OKPKey = (
        ECKey.generate_key("P-256") if algorithm == "ES256" else OKPKey.generate_key("Ed25519")
    )
    jwk = dict(key.as_dict(private=True))
    jwk["kid"] = kid or thumbprint(key.as_dict(private=False))
    jwk["alg"] = algorithm
    return jwk


def public_jwk(private: Mapping[str, Any]) -> dict[str, Any]:
    """The public half of a JWK, as it goes into the client registry."""
    return {k: v for k, v in private.items() if k not in PRIVATE_MEMBERS}


def sign_token(
    claims: Mapping[str, Any],
    private: Mapping[str, Any],
    *,
    algorithm: str | None = None,
    header: Mapping[str, Any] | None = None,
) -> str:
    """A compact JWS over ``claims`` signed with ``private``; ``kid`` and ``alg`` come from
    the JWK unless ``header`` overrides them."""
    alg = algorithm or str(
        private.get("alg") or ("ES256" if private.get("kty") == "EC" else "Ed25519")
    )
    protected: dict[str, Any] = {"typ": "JWT", "alg": alg}
    if "kid" in private:
        protected["kid"] = private["kid"]
    protected.update(header or {})
    key = import_key({k: v for k, v in private.items() if k not in ("alg", "use")})
    payload = _canonical(claims)
    return jws.serialize_compact(
        protected, payload, key, algorithms=[alg], registry=TokenJWSRegistry(algorithms=[alg])
    )


def _canonical(claims: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def token_claims(
    facts: Mapping[str, Any],
    *,
    client_id: str,
    audience: str,
    now: int,
    ttl: int = 300,
    jti: str | None = None,
) -> dict[str, Any]:
    """Claims for one token: the registered claims plus the caller ``facts`` (``kind``,
    ``sub``, ``profession``, ``structure``, ``patient``, ``purpose_of_use`` …; see
    :mod:`gateway.auth.claims`); facts whose value is None are left out."""
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
        "jti": jti or str(uuid.uuid4()),
    }
    claims.update({k: v for k, v in facts.items() if v is not None})
    return claims


def client_entry(
    client_id: str,
    *,
    name: str,
    role: ClientRole,
    structures: list[str],
    public_keys: list[Mapping[str, Any]],
    group: str | None = None,
    per_second: float = 50.0,
    burst: int = 100,
    limits: RateLimit | None = None,
) -> dict[str, Any]:
    """One client as it is written in the registry file (``limits`` wins over
    ``per_second``/``burst``, which set the client-wide bucket only)."""
    limits = limits or replace(RateLimit(), per_second=per_second, burst=burst)
    return {
        "id": client_id,
        "name": name,
        "role": role,
        "structures": structures,
        "rate_limit": rate_limit_document(limits),
        "group": group,
        "jwks": {"keys": [dict(k) for k in public_keys]},
    }
