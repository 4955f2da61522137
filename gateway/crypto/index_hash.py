"""Keyed hashes for search index rows: HMAC-SHA-256 under the index key (issue 9).

An identifier such as an INS has so little entropy (13 digits and a key) that a plain
hash is reversed by enumeration in minutes; a keyed hash is not, as long as the index
key stays apart from the database (RFC 2104; the "blind index" of searchable
encryption). Equality survives hashing, so exact search still works; order, prefixes
and substrings do not.

The digest is the full 256-bit MAC in unpadded base64url (43 characters). A purpose
label is mixed into the message, so an identifier and a name that happen to be equal
do not get equal digests.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac

KEY_BYTES = 32
DIGEST_CHARS = 43
_URLSAFE = bytes.maketrans(b"+/", b"-_")


class IndexHasher:
    """``hasher(value)``: the stored form of ``value`` for one purpose; the key never shows."""

    __slots__ = ("_keyed", "_raw")

    def __init__(self, key: bytes, purpose: str = "identifier") -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"the index key must hold at least {KEY_BYTES} bytes")
        self._raw = bytes(key)
        # Keyed once: each value then costs a state copy and two compressions, not a
        # fresh key schedule (a third of the time per value).
        self._keyed = hmac.new(self._raw, purpose.encode("ascii") + b"\x00", hashlib.sha256)

    def for_purpose(self, purpose: str) -> IndexHasher:
        """The same key under another label (``"name"``, ``"identifier"``)."""
        return IndexHasher(self._raw, purpose)

    def __call__(self, value: str) -> str:
        mac = self._keyed.copy()
        mac.update(value.encode("utf-8"))
        text = binascii.b2a_base64(mac.digest(), newline=False)
        return text[:DIGEST_CHARS].translate(_URLSAFE).decode("ascii")

    def __repr__(self) -> str:
        return "IndexHasher(<key hidden>)"


__all__ = ["DIGEST_CHARS", "KEY_BYTES", "IndexHasher"]
