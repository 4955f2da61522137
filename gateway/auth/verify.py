"""Bearer token verification: a compact JWS (RFC 7515) signed by a registered client.

``verify(token, registry, audience=..., now=..., replay=...) -> AccessContext``.

The checks run in a fixed order, cheapest and least trusting first, and the first failure
raises :class:`TokenRejected` (401) naming it:

1. size (<= 8 KiB) and shape (three base64url segments, ASCII only);
2. the header, parsed strictly (no duplicate member): ``alg`` must be ES256 or EdDSA /
   Ed25519 (``none`` and HMAC are refused by name, so a public key can never be used as an
   HMAC secret); only ``alg``, ``kid`` and ``typ`` are allowed (no ``jwk``/``jku``/``x5c``:
   keys come from the registry only, never from the token); ``kid`` must name a
   registered key whose curve matches ``alg``;
3. the signature, with that one key and that one algorithm (joserfc);
4. the claims: ``iss`` is the key's owner, ``aud``, ``exp``/``iat``/``nbf`` with a small
   clock skew and a lifetime of at most 5 minutes, then the caller facts
   (:mod:`gateway.auth.claims`);
5. last, the replay guard marks ``<iss>:<jti>``, so a refused token never burns a jti.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwa import EdDSAAlgorithm, JWSAlgModel
from joserfc.jws import JWSRegistry, deserialize_compact

from gateway.access.context import AccessContext
from gateway.auth import rejection as rj
from gateway.auth.claims import TokenRules, check_audience, check_time, context_from_claims
from gateway.auth.registry import ClientRegistry
from gateway.auth.replay import ReplayGuard

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
_ALLOWED_HEADER = frozenset({"alg", "kid", "typ"})
_TYPES = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})


class _EdDSA(EdDSAAlgorithm):
    # RFC 9864 deprecates the *name* "EdDSA" because it did not fix the curve; the
    # registry only holds Ed25519 keys, so the name is as safe as "Ed25519" here.
    security_warning = None  # type: ignore[assignment]


class TokenJWSRegistry(JWSRegistry):
    """Only the algorithms the gateway accepts, in a registry of their own (joserfc's
    default registry is shared, mutable class state)."""

    algorithms: dict[str, JWSAlgModel] = {  # noqa: RUF012 - joserfc reads the class attribute
        "ES256": JWSRegistry.algorithms["ES256"],
        "Ed25519": JWSRegistry.algorithms["Ed25519"],
        "EdDSA": _EdDSA(),
    }
    recommended: list[str] = []  # noqa: RUF012


SUPPORTED_ALGORITHMS = frozenset(TokenJWSRegistry.algorithms)
DEFAULT_RULES = TokenRules()


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise rj.TokenRejected(rj.MALFORMED) from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError("duplicate member")
        out[key] = value
    return out


def _json_object(raw: bytes, reason: rj.TokenReason) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise rj.TokenRejected(reason) from exc
    if not isinstance(value, dict):
        raise rj.TokenRejected(reason)
    return value


def _check_header(header: Mapping[str, Any]) -> tuple[str, str]:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise rj.TokenRejected(rj.MALFORMED)
    if alg.lower() == "none":
        raise rj.TokenRejected(rj.ALG_NONE)
    if alg.upper().startswith("HS"):
        raise rj.TokenRejected(rj.ALG_HMAC)
    if alg not in SUPPORTED_ALGORITHMS:
        raise rj.TokenRejected(rj.ALG_UNSUPPORTED)
    if set(header) - _ALLOWED_HEADER:
        raise rj.TokenRejected(rj.HEADER_INVALID)
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _TYPES):
        raise rj.TokenRejected(rj.HEADER_INVALID)
    kid = header.get("kid")
    if kid is None:
        raise rj.TokenRejected(rj.KID_MISSING)
    if not isinstance(kid, str) or not kid:
        raise rj.TokenRejected(rj.MALFORMED)
    return alg, kid


def verify(
    token: str | None,
    registry: ClientRegistry,
    *,
    audience: str,
    now: float,
    replay: ReplayGuard,
    rules: TokenRules = DEFAULT_RULES,
) -> AccessContext:
    """The caller's context from a bearer token, or :class:`TokenRejected`."""
    if not token:
        raise rj.TokenRejected(rj.MISSING)
    if len(token) > rules.max_bytes:
        raise rj.TokenRejected(rj.TOO_LARGE)
    segments = token.split(".")
    if (
        not token.isascii()
        or len(segments) != 3
        or not all(_SEGMENT.match(s) for s in segments)
        or not segments[0]
        or not segments[1]
    ):
        raise rj.TokenRejected(rj.MALFORMED)
    alg, kid = _check_header(_json_object(_b64decode(segments[0]), rj.MALFORMED))
    found = registry.key(kid)
    if found is None:
        raise rj.TokenRejected(rj.KID_UNKNOWN)
    client, key = found
    if alg not in key.algorithms:
        raise rj.TokenRejected(rj.ALG_KEY_MISMATCH)
    try:
        signed = deserialize_compact(
            token, key.key, algorithms=[alg], registry=TokenJWSRegistry(algorithms=[alg])
        )
    except BadSignatureError as exc:
        raise rj.TokenRejected(rj.BAD_SIGNATURE) from exc
    except (JoseError, ValueError) as exc:
        raise rj.TokenRejected(rj.MALFORMED) from exc
    claims = _json_object(signed.payload, rj.CLAIMS_MALFORMED)
    iss = claims.get("iss")
    if iss is None:
        raise rj.TokenRejected(rj.CLAIM_MISSING, "iss")
    if iss != client.id:
        raise rj.TokenRejected(rj.ISS_MISMATCH)
    check_audience(claims, audience)
    exp = check_time(claims, now, rules)
    jti = claims.get("jti")
    if jti is None:
        raise rj.TokenRejected(rj.CLAIM_MISSING, "jti")
    if not isinstance(jti, str) or not jti or len(jti) > 128:
        raise rj.TokenRejected(rj.CLAIM_INVALID, "jti")
    context = context_from_claims(claims, client, rules)
    if replay.seen(f"{client.id}:{jti}", exp):
        raise rj.TokenRejected(rj.REPLAYED)
    return context
