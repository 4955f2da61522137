"""Signing rest-hook notifications: a detached JWS over the exact body (RFC 7515, App. F).

Each notification carries ``X-DMP-Signature: <protected>..<signature>``, a compact JWS
whose payload is the request body (base64url-encoded as usual, then left out), signed with
the gateway's Ed25519 key (``alg`` ``Ed25519``, RFC 9864; RFC 8037 keys). The protected
header names the key (``kid``) and binds the delivery: ``jti`` (the event id, stable
across retries: deduplicate on it), ``sub`` (the Subscription id), ``htu`` (the endpoint
URL the request was sent to), ``htm`` (``POST``) and ``iat`` (seconds).

A receiver fetches the public keys from ``GET /sync/jwks``, re-attaches the body
(``<protected>.<base64url(body)>.<signature>``), verifies the signature, and checks that
``htu`` is its own URL and ``iat`` recent. The header names above are JWS extensions: a
strict library must be told to accept them (joserfc: ``strict_check_header=False``).

The key is an Ed25519 private JWK in ``GATEWAY_SYNC__SIGNING_KEY_FILE``; in dev and test it
is generated once in the data dir (mode 0600). Production refuses to sign without one.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config import Settings
from gateway.keyfile import ConfigurationError

SIGNATURE_HEADER = "X-DMP-Signature"
JOSE_TYPE = "dmp-notification+jws"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an OKP key: SHA-256 of the canonical members."""
    canonical = orjson.dumps({"crv": "Ed25519", "kty": "OKP", "x": x})
    return _b64(hashlib.sha256(canonical).digest())


class NotificationSigner:
    def __init__(self, private_jwk: dict[str, Any]) -> None:
        if private_jwk.get("kty") != "OKP" or private_jwk.get("crv") != "Ed25519":
            raise ConfigurationError("the notification signing key must be an Ed25519 JWK")
        self._key = Ed25519PrivateKey.from_private_bytes(_unb64(str(private_jwk["d"])))
        self.x = str(private_jwk["x"])
        self.kid = str(private_jwk.get("kid") or _thumbprint(self.x))

    @classmethod
    def generate(cls) -> NotificationSigner:
        return cls(new_private_jwk())

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "alg": "Ed25519",
            "use": "sig",
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def sign(self, body: bytes, claims: dict[str, Any]) -> str:
        """The detached compact JWS of ``body`` with ``claims`` in the protected header."""
        header = {"alg": "Ed25519", "kid": self.kid, "typ": JOSE_TYPE, **claims}
        protected = _b64(orjson.dumps(header))
        signing_input = f"{protected}.{_b64(body)}".encode("ascii")
        return f"{protected}..{_b64(self._key.sign(signing_input))}"


def new_private_jwk() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    d = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    x = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    xs = _b64(x)
    return {"kty": "OKP", "crv": "Ed25519", "d": _b64(d), "x": xs, "kid": _thumbprint(xs)}


def load_signer(settings: Settings) -> NotificationSigner:
    """The configured key; generated under the data dir outside production."""
    path = settings.sync.signing_key_file
    if path is None:
        if settings.env == "prod":
            raise ConfigurationError(
                "GATEWAY_SYNC__SIGNING_KEY_FILE (an Ed25519 private JWK) is required in production"
            )
        path = settings.data_dir / "sync-signing-key.json"
        if not path.exists():
            _create(path)
    return NotificationSigner(orjson.loads(Path(path).read_bytes()))


def _create(path: Path) -> None:
    """Write a new key atomically: complete in a private file, then linked into place (a
    concurrent process either wins the link or reads the winner's complete file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(new_private_jwk()))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
