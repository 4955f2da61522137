"""Key-encryption keys (KEKs): what wraps the data keys.

:class:`KeyWrapper` is the seam: the gateway only ever asks it to wrap a fresh data key
under the current KEK and to unwrap one under a named KEK. :class:`LocalKeks` is the
built-in one (AES-256-GCM with keys from a key file and/or the environment); a KMS or
HSM client fits behind the same four methods (``GATEWAY_CRYPTO__KMS=module:factory``,
see README.md).

The key file is JSON, mode 0600::

    {"current": "k2", "keys": {"k1": "<64 hex>", "k2": "<64 hex>"}}

Rotation adds a key and makes it current; the old ones stay for unwrapping until every
data key is re-wrapped (``dmp-gateway keys rotate``), then ``--retire`` drops them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.config import Settings
from gateway.crypto.errors import ContentIntegrityError, KeyUnavailable
from gateway.keyfile import ConfigurationError

KEK_BYTES = 32
DEK_BYTES = 32


@runtime_checkable
class KeyWrapper(Protocol):
    """Wraps and unwraps data keys. ``context`` is associated data binding the wrapped
    key to its ``data_key`` row; implementations must authenticate it."""

    def current(self) -> str:
        """The id of the KEK new wraps use."""
        ...

    def wrap(self, dek: bytes, context: bytes) -> tuple[str, bytes]:
        """``(kek id, wrapped bytes)`` of ``dek`` under the current KEK."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """The data key; raises :class:`KeyUnavailable` for a KEK it does not hold."""
        ...

    def refresh(self) -> bool:
        """Reload key material (a rotation elsewhere); True when something changed."""
        ...


def decode_key(text: str, what: str) -> bytes:
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        import base64
        import binascii

        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except binascii.Error:
            raise ConfigurationError(f"{what} must be 32 bytes, hex or base64") from None
    if len(raw) != KEK_BYTES:
        raise ConfigurationError(f"{what} must be exactly 32 bytes (hex or base64)")
    return raw


def env_kek_id(key: bytes) -> str:
    """A stable, non-secret name for an environment-provided KEK."""
    return "env-" + hashlib.sha256(b"dmp-gateway kek id\x00" + key).hexdigest()[:16]


@dataclass
class KekFile:
    """The key file: ``current`` and every KEK by id. Written atomically, mode 0600."""

    path: Path
    current: str
    keys: dict[str, bytes]

    @classmethod
    def load(cls, path: Path) -> KekFile:
        try:
            data = json.loads(path.read_text("ascii"))
            keys = {str(k): decode_key(v, f"KEK {k}") for k, v in data["keys"].items()}
            current = str(data["current"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"cannot read the KEK file {path}: {exc}") from None
        if current not in keys:
            raise ConfigurationError(f"the KEK file {path} names a missing current key")
        return cls(path, current, keys)

    @classmethod
    def create(cls, path: Path) -> KekFile:
        kek = cls(path, "k1", {"k1": secrets.token_bytes(KEK_BYTES)})
        kek.save(exclusive=True)
        return kek

    @classmethod
    def load_or_create(cls, path: Path) -> KekFile:
        try:
            return cls.create(path) if not path.exists() else cls.load(path)
        except FileExistsError:  # another process created it first
            return cls.load(path)

    def save(self, *, exclusive: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(
            {"current": self.current, "keys": {k: v.hex() for k, v in self.keys.items()}}
        )
        if exclusive:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            return
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def add(self) -> str:
        """A new random KEK, made current (the caller saves)."""
        n = 1 + max((int(k[1:]) for k in self.keys if k[1:].isdigit() and k[0] == "k"), default=0)
        kid = f"k{n}"
        self.keys[kid] = secrets.token_bytes(KEK_BYTES)
        self.current = kid
        return kid


class LocalKeks:
    """The built-in :class:`KeyWrapper`: AES-256-GCM under keys held in memory.

    Sources: the key file (all its KEKs; reloaded when it changes on disk) and an
    environment KEK, which when given is the current one.
    """

    def __init__(self, path: Path | None, env_key: bytes | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._env = (env_kek_id(env_key), env_key) if env_key is not None else None
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, AESGCM] = {}
        self._current = ""
        self._load()

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        keys: dict[str, AESGCM] = {}
        current = ""
        stamp = self._file_stamp()
        if self.path is not None and stamp is not None:
            kf = KekFile.load(self.path)
            keys = {k: AESGCM(v) for k, v in kf.keys.items()}
            current = kf.current
        if self._env is not None:
            keys[self._env[0]] = AESGCM(self._env[1])
            current = self._env[0]
        if not keys:
            raise ConfigurationError("no key-encryption key is configured")
        self._keys, self._current, self._stamp = keys, current, stamp

    def refresh(self) -> bool:
        with self._lock:
            if self._file_stamp() == self._stamp:
                return False
            self._load()
            return True

    def current(self) -> str:
        return self._current

    def kek_ids(self) -> list[str]:
        return sorted(self._keys)

    def wrap(self, dek: bytes, context: bytes) -> tuple[str, bytes]:
        kid = self._current
        nonce = os.urandom(12)
        return kid, nonce + self._keys[kid].encrypt(nonce, dek, context)

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        aead = self._keys.get(kek_id)
        if aead is None:
            self.refresh()
            aead = self._keys.get(kek_id)
            if aead is None:
                raise KeyUnavailable(f"Key-encryption key {kek_id!r} is not configured")
        try:
            return aead.decrypt(wrapped[:12], wrapped[12:], context)
        except InvalidTag:
            raise ContentIntegrityError("A wrapped data key failed its integrity check") from None


def kek_path(settings: Settings) -> Path | None:
    """The key file in use: configured, or (dev and test) generated in the data dir."""
    c = settings.crypto
    if c.kek_file is not None:
        return c.kek_file
    if settings.env == "prod":
        return None
    return settings.data_dir / "kek.json"


def key_wrapper(settings: Settings) -> KeyWrapper:
    """The KEK source from settings; production refuses to start without an explicit one."""
    c = settings.crypto
    if c.kms:
        module, _, factory = c.kms.partition(":")
        if not factory:
            raise ConfigurationError("GATEWAY_CRYPTO__KMS must be 'module:factory'")
        wrapper = getattr(importlib.import_module(module), factory)(settings)
        if not isinstance(wrapper, KeyWrapper):
            raise ConfigurationError(f"{c.kms} did not return a KeyWrapper")
        return wrapper
    env_key = decode_key(c.kek.get_secret_value(), "GATEWAY_CRYPTO__KEK") if c.kek else None
    path = kek_path(settings)
    if settings.env == "prod" and env_key is None and path is None:
        raise ConfigurationError(
            "encryption at rest needs a key-encryption key in production (GATEWAY_ENV=prod): "
            "set GATEWAY_CRYPTO__KEK_FILE (a key file made by 'dmp-gateway keys init') or "
            "GATEWAY_CRYPTO__KEK (32 bytes, hex or base64)"
        )
    if path is not None and env_key is None:
        if settings.env == "prod" and not path.exists():
            raise ConfigurationError(f"the KEK file {path} does not exist")
        KekFile.load_or_create(path)
    return LocalKeks(path, env_key)


def new_data_key() -> bytes:
    return secrets.token_bytes(DEK_BYTES)
