"""The audit log's signing key (a file) and the public keys it has ever used (a table).

The signing key is a signed-note Ed25519 signer key text
(``PRIVATE+KEY+<origin>+<key ID>+<key>``, :class:`gateway.audit.checkpoint.Signer`)
named after the log origin. Production reads it from ``GATEWAY_AUDIT__KEY_FILE`` and
refuses to start without one; dev and test generate it under the data dir on first
start (mode 0600), like :mod:`gateway.keyfile`.

Rotation writes a new key in place of the old one. Every public key that signed a
checkpoint stays in ``audit_key``, so the gateway can still check its older
checkpoints (before signing a new one, it verifies the previous one) and
``dmp-gateway audit keys`` can list them for auditors. Auditors must take public keys
from a trusted channel, not from this table: the offline verifier only trusts the
keys it is given.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection

from gateway.audit.checkpoint import CheckpointError, Signer, VerifierKey
from gateway.config import Settings
from gateway.keyfile import ConfigurationError
from gateway.storage import schema as s
from gateway.storage.dialect_insert import insert_ignore

log = logging.getLogger("gateway.audit")


def key_path(settings: Settings) -> Path:
    """The configured key file, or the generated one under the data dir (dev, test)."""
    if settings.audit.key_file is not None:
        return settings.audit.key_file
    if settings.env == "prod":
        raise ConfigurationError(
            "GATEWAY_AUDIT__KEY_FILE is required in production (GATEWAY_ENV=prod); "
            "create one with: dmp-gateway audit keys --rotate --key-file PATH"
        )
    return settings.data_dir / "audit-signing.key"


def _write_new(path: Path, signer: Signer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(signer.to_text() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)  # atomic: a crash leaves the old key or the new one


def _read(path: Path, origin: str) -> Signer:
    try:
        signer = Signer.from_text(path.read_text("ascii"))
    except (OSError, UnicodeDecodeError, CheckpointError) as e:
        raise ConfigurationError(f"cannot read the audit signing key {path}: {e}") from None
    if signer.name != origin:
        raise ConfigurationError(
            f"the audit signing key {path} is named {signer.name!r}; "
            f"it must be named after the log origin {origin!r}"
        )
    return signer


def load_signer(settings: Settings) -> Signer:
    """The signing key; generated on first start in dev and test (and announced)."""
    path = key_path(settings)
    if settings.audit.key_file is None and not path.exists():
        signer = Signer.generate(settings.audit.origin)
        _write_new(path, signer)
        log.warning(
            "generated the audit signing key %s; public key: %s",
            path,
            signer.verifier_key.to_text(),
        )
        return signer
    return _read(path, settings.audit.origin)


def rotate(settings: Settings, path: Path | None = None) -> tuple[Signer | None, Signer]:
    """Write a new signing key over the old one; return (old key or None, new key).

    Register both public keys (:func:`register`) so that checkpoints by either verify.
    """
    target = path or key_path(settings)
    old = _read(target, settings.audit.origin) if target.exists() else None
    new = Signer.generate(settings.audit.origin)
    _write_new(target, new)
    return old, new


def register(conn: Connection, key: VerifierKey, now: int) -> None:
    """Remember a public key that signs (or signed) checkpoints of this log."""
    insert_ignore(conn, s.audit_key, [{"vkey": key.to_text(), "created": now}])


def known_keys(conn: Connection) -> list[tuple[VerifierKey, int]]:
    """Every registered public key with the time it was registered, oldest first."""
    k = s.audit_key
    rows = conn.execute(select(k.c.vkey, k.c.created).order_by(k.c.created, k.c.vkey)).all()
    out: list[tuple[VerifierKey, int]] = []
    for text, created in rows:
        try:
            out.append((VerifierKey.from_text(text), created))
        except CheckpointError:
            log.error("ignoring a malformed public key in audit_key")
    return out
