"""The index key: where the HMAC key of :mod:`gateway.crypto.index_hash` comes from.

``GATEWAY_CRYPTO__INDEX_KEY`` (hex or base64, at least 32 bytes), else the file
``GATEWAY_CRYPTO__INDEX_KEY_FILE``; in dev and test, without either, a key generated once
under the data dir (``index.key``, mode 0600). Production refuses to start without an
explicit key while anything is hashed: a key invented on one worker would make every
other worker's searches miss.

The key is not the KEK of the encrypted content: losing it costs a reindex, not data,
and a database dump without it reveals no identifier.
"""

from __future__ import annotations

from gateway.config import Settings
from gateway.crypto.index_hash import IndexHasher
from gateway.keyfile import ConfigurationError, decode_key, load_or_create

GENERATED_NAME = "index.key"


def index_key_needed(settings: Settings) -> bool:
    """Whether anything is hashed (identifiers, or names when they are not kept clear)."""
    return settings.crypto.hash_identifiers or not settings.crypto.clear_names


def index_hasher(settings: Settings) -> IndexHasher | None:
    """The configured hasher, ``None`` when nothing is hashed; raises
    :class:`ConfigurationError` when production has no key."""
    if not index_key_needed(settings):
        return None
    crypto = settings.crypto
    if crypto.index_key is not None:
        key = decode_key(crypto.index_key.get_secret_value(), name="GATEWAY_CRYPTO__INDEX_KEY")
        return IndexHasher(key)
    path = crypto.index_key_file
    if path is not None:
        if path.exists():
            key = decode_key(path.read_text("ascii"), name=f"the index key file {path}")
            return IndexHasher(key)
        if settings.env == "prod":
            raise ConfigurationError(f"the index key file {path} does not exist")
        return IndexHasher(load_or_create(path))
    if settings.env == "prod":
        raise ConfigurationError(
            "GATEWAY_CRYPTO__INDEX_KEY or GATEWAY_CRYPTO__INDEX_KEY_FILE is required in "
            "production while identifiers or names are hashed; generate one with: "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return IndexHasher(load_or_create(settings.data_dir / GENERATED_NAME))


__all__ = ["ConfigurationError", "index_hasher", "index_key_needed"]
