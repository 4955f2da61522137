from __future__ import annotations

import pytest

from gateway.errors import BadRequest
from gateway.fhir.cursor import CursorCodec, digest

KEY = b"k" * 32


def test_round_trip_and_binding() -> None:
    codec = CursorCodec(KEY)
    token = codec.encode({"after": 42}, query="q1", caller="c1")
    assert codec.decode(token, query="q1", caller="c1") == {"after": 42}
    with pytest.raises(BadRequest, match="another query or caller"):
        codec.decode(token, query="q2", caller="c1")
    with pytest.raises(BadRequest, match="another query or caller"):
        codec.decode(token, query="q1", caller="c2")


def test_every_single_character_change_is_refused() -> None:
    codec = CursorCodec(KEY)
    token = codec.encode({"after": 42}, query="q", caller="c")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for i, ch in enumerate(token):
        other = alphabet[(alphabet.index(ch) + 1) % len(alphabet)]
        tampered = token[:i] + other + token[i + 1 :]
        with pytest.raises(BadRequest):
            codec.decode(tampered, query="q", caller="c")


def test_another_key_is_refused_and_garbage_too() -> None:
    token = CursorCodec(KEY).encode({"after": 1}, query="q", caller="c")
    with pytest.raises(BadRequest, match="signature"):
        CursorCodec(b"x" * 32).decode(token, query="q", caller="c")
    for junk in ["", ".", "abc", "a.b", "%%%.%%%"]:
        with pytest.raises(BadRequest):
            CursorCodec(KEY).decode(junk, query="q", caller="c")


def test_digest_separates_parts() -> None:
    assert digest(["ab", "c"]) != digest(["a", "bc"])
