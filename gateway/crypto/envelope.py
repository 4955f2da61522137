"""The sealed-content format: AES-256-GCM under a data key, bound to its row.

Layout (bytes)::

    b"\\x00GW"  version (1)  key id (16)  nonce (12)  ciphertext ‖ GCM tag (16)

The three-byte magic starts with NUL, which neither JSON, HL7 v2 nor CSV text ever
does: anything without it is legacy plaintext, read as it is. The associated data
(never stored) names the row the bytes belong to, so a ciphertext copied into another
row, version or patient fails authentication like a flipped bit does. Nonces are 96
random bits per seal (NIST SP 800-38D §8.2.2: safe for far more than the 2**32
messages one data key will ever seal).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.errors import ContentIntegrityError

MAGIC = b"\x00GW"
VERSION = 1
KEY_ID_BYTES = 16
NONCE_BYTES = 12
HEAD = len(MAGIC) + 1
"""Where the key id starts."""
BODY = HEAD + KEY_ID_BYTES + NONCE_BYTES
"""Where the ciphertext starts (the nonce ends)."""
OVERHEAD = BODY + 16


def is_sealed(blob: bytes) -> bool:
    return blob[:3] == MAGIC


def key_id_of(blob: bytes) -> bytes:
    """The data key id a sealed blob names (raises on a malformed header)."""
    if len(blob) < OVERHEAD or blob[3] != VERSION:
        raise ContentIntegrityError("Stored content is malformed or of an unknown version")
    return blob[HEAD : HEAD + KEY_ID_BYTES]


def seal(aead: AESGCM, key_id: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return b"".join((MAGIC, bytes((VERSION,)), key_id, nonce, aead.encrypt(nonce, plaintext, aad)))


def open_sealed(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    """The plaintext of a sealed blob; :class:`ContentIntegrityError` if it does not verify."""
    key_id_of(blob)
    try:
        return aead.decrypt(blob[HEAD + KEY_ID_BYTES : BODY], blob[BODY:], aad)
    except InvalidTag:
        raise ContentIntegrityError(
            "Stored content failed its integrity check (altered or moved)"
        ) from None


def aad(*parts: str | int | None) -> bytes:
    """Associated data from row coordinates: unambiguous (length-prefixed parts)."""
    out = bytearray()
    for part in parts:
        if part is None:
            out += b"\xff\xff\xff\xff"  # distinct from the empty string
            continue
        raw = str(part).encode("utf-8")
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)
