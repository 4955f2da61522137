"""Opaque, signed paging cursors, bound to the query and to the caller.

A cursor is ``base64url(json payload) "." base64url(HMAC-SHA-256 tag)``. The payload
carries the position and digests of the query and of the caller; decoding checks the tag
in constant time and refuses a cursor replayed with another query or by another caller.
A tampered or foreign cursor is a 400 (never a 500, never someone else's page).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

import orjson

from gateway.errors import BadRequest


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url: only the canonical encoding of some bytes is accepted."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("non-canonical base64")
    return data


def digest(parts: Iterable[str]) -> str:
    """A short digest of a query or caller identity, for binding cursors to them."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return _b64(h.digest()[:12])


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("cursor key too short")
        self._key = key

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def encode(self, position: dict[str, Any], *, query: str, caller: str) -> str:
        body = orjson.dumps({"p": position, "q": query, "c": caller})
        return f"{_b64(body)}.{_b64(self._tag(body))}"

    def decode(self, token: str, *, query: str, caller: str, name: str = "_page") -> dict[str, Any]:
        """The position in ``token``; 400 when it was altered or belongs elsewhere."""
        try:
            body_text, tag_text = token.split(".", 1)
            body, tag = _unb64(body_text), _unb64(tag_text)
        except (ValueError, TypeError):
            raise BadRequest(
                f"Invalid paging cursor in '{name}'", expression=name, code="GW-1601"
            ) from None
        if not hmac.compare_digest(tag, self._tag(body)):
            raise BadRequest(
                f"Invalid paging cursor in '{name}': signature mismatch",
                expression=name,
                code="GW-1601",
            )
        payload = orjson.loads(body)
        if payload.get("q") != query or payload.get("c") != caller:
            raise BadRequest(
                f"The paging cursor in '{name}' belongs to another query or caller",
                expression=name,
                code="GW-1602",
            )
        position = payload.get("p")
        if not isinstance(position, dict):
            raise BadRequest(f"Invalid paging cursor in '{name}'", expression=name, code="GW-1601")
        return position
