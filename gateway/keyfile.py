"""Server secrets: from configuration in production, generated once in dev and test.

Production refuses to start without an explicit key, so that several workers or
containers share one key and nothing secret is invented silently.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from gateway.config import Settings


class ConfigurationError(RuntimeError):
    """The gateway cannot start with this configuration; the message says why."""


def _decode(text: str) -> bytes:
    return decode_key(text, name="GATEWAY_SECRET_KEY")


def decode_key(text: str, *, name: str) -> bytes:
    """A key written in hex or base64 (at least 32 bytes); errors name the setting."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
        except binascii.Error:
            raw = text.encode("utf-8")
    if len(raw) < 32:
        raise ConfigurationError(f"{name} must hold at least 32 bytes")
    return raw


def load_or_create(path: Path) -> bytes:
    """Read a key file, or create it (mode 0600) with 32 random bytes."""
    if path.exists():
        return _decode(path.read_text("ascii"))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    return key


def server_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return _decode(settings.secret_key.get_secret_value())
    if settings.env == "prod":
        raise ConfigurationError(
            "GATEWAY_SECRET_KEY is required in production (GATEWAY_ENV=prod); "
            "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return load_or_create(settings.data_dir / "secret.key")
