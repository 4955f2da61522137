"""Signed tree heads: C2SP tlog-checkpoint bodies in C2SP signed notes, Ed25519 only.

A checkpoint (https://c2sp.org/tlog-checkpoint) is a signed note
(https://c2sp.org/signed-note) whose text is three lines, each ending in a newline::

    <origin>
    <tree size in decimal>
    <base64 root hash>

    — <key name> <base64(4-byte key ID || Ed25519 signature of the text above)>

The key ID is ``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]``. Keys
travel as the signed-note text forms that Go's ``golang.org/x/mod/sumdb/note`` reads:
``<name>+<key ID hex>+<base64(0x01 || public key)>`` for a verifier key, and
``PRIVATE+KEY+<name>+<key ID hex>+<base64(0x01 || seed)>`` for a signer key.

Parsing is strict and raises :class:`MalformedNote` with the reason. Verification
follows the signed-note rules: signatures from unknown keys are ignored, a known key
whose signature fails rejects the note, and at least one known key must verify. Key
rotation is just another known key: supply old and new verifier keys together.

This module imports only the standard library and ``cryptography``, so the offline
verifier (:mod:`gateway.audit.verifier`) can use it. Its errors are plain
:class:`ValueError` subclasses for that reason; the API layer maps them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ED25519 = 0x01  # signed-note signature type byte
MAX_NOTE_BYTES = 1 << 16
MAX_SIGNATURES = 100  # the spec requires accepting at least 16
_DASH = "— "  # U+2014 EM DASH, then a space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class CheckpointError(ValueError):
    """Root of the errors of this module."""


class MalformedNote(CheckpointError):
    """The text is not a well-formed signed note or checkpoint."""


class MalformedKey(CheckpointError):
    """A key text is not a well-formed signed-note Ed25519 key."""


class UnverifiedNote(CheckpointError):
    """No known key verified the note, or a known key's signature failed."""


def _valid_name(name: str) -> bool:
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not _CONTROL.search(name)
    )


def _b64decode(text: str) -> bytes:
    """Strict, canonical standard base64 (RFC 4648 §4); raises ``ValueError``."""
    raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte signed-note key ID of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The note text of a checkpoint: which log, how many entries, which root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line or _CONTROL.search(line):
                raise ValueError(f"checkpoint lines are non-empty single lines: {line!r}")
        if self.origin.startswith(_DASH):
            # it would read as a signature line when checkpoints are concatenated
            raise ValueError("an origin does not start with an em dash and a space")
        if not 0 <= self.size < 1 << 64:
            raise ValueError("the tree size is a uint64")
        if len(self.root) != 32:
            raise ValueError("the root hash is 32 bytes")

    def text(self) -> str:
        """The signed note text, final newline included."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(line + "\n" for line in (*lines, *self.extensions))


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key ID and the raw signature."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A parsed, not yet verified, checkpoint note."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]
    text: str  # the exact signed text

    def note(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key that may sign checkpoints, under its signed-note key name."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise MalformedKey(f"invalid key name {self.name!r}")
        if len(self.public_key) != 32:
            raise MalformedKey("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def to_text(self) -> str:
        """``<name>+<key ID hex>+<base64(0x01 || public key)>``."""
        blob = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    @classmethod
    def from_text(cls, text: str) -> VerifierKey:
        """Parse the vkey text form; the key ID must match the key."""
        name, _, rest = text.strip().partition("+")
        hash_hex, _, blob = rest.partition("+")
        try:
            raw = _b64decode(blob)
            expected = bytes.fromhex(hash_hex) if len(hash_hex) == 8 else b""
        except ValueError as e:
            raise MalformedKey(f"malformed verifier key: {e}") from None
        if len(expected) != 4 or len(raw) != 33 or raw[0] != ED25519:
            raise MalformedKey("malformed verifier key: not name+hash+Ed25519 key")
        key = cls(name, raw[1:])
        if key.key_id != expected:
            raise MalformedKey("the key ID does not match the verifier key")
        return key

    def verifies(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


class Signer:
    """An Ed25519 private key that signs notes under a key name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier_key = VerifierKey(name, public)  # validates the name
        self.name = name

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate())

    def to_text(self) -> str:
        """``PRIVATE+KEY+<name>+<key ID hex>+<base64(0x01 || seed)>``: keep it secret."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        blob = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier_key.key_id.hex()}+{blob}"

    @classmethod
    def from_text(cls, text: str) -> Signer:
        """Parse the signer key text form; the key ID must match the derived public key."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or len(parts[3]) != 8:
            raise MalformedKey("malformed signer key: not PRIVATE+KEY+name+hash+key")
        try:
            raw = _b64decode(parts[4])
            expected = bytes.fromhex(parts[3])
        except ValueError as e:
            raise MalformedKey(f"malformed signer key: {e}") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise MalformedKey("malformed signer key: not an Ed25519 seed")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier_key.key_id != expected:
            raise MalformedKey("the key ID does not match the signer key")
        return signer

    def sign(self, text: bytes) -> NoteSignature:
        return NoteSignature(self.name, self.verifier_key.key_id, self._key.sign(text))


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[Signer]) -> str:
    """The checkpoint as a signed note, one signature line per signer (in order)."""
    if not signers:
        raise ValueError("a checkpoint needs at least one signer")
    text = checkpoint.text()
    sigs = tuple(s.sign(text.encode()) for s in signers)
    return SignedCheckpoint(checkpoint, sigs, text).note()


def _parse_signature(line: str) -> NoteSignature:
    if not line.startswith(_DASH):
        raise MalformedNote(f"a signature line starts with an em dash and a space: {line!r}")
    name, _, blob = line[len(_DASH) :].partition(" ")
    if not _valid_name(name):
        raise MalformedNote(f"invalid key name in signature line: {line!r}")
    try:
        raw = _b64decode(blob)
    except ValueError:
        raise MalformedNote(f"the signature is not canonical base64: {line!r}") from None
    if len(raw) < 5:
        raise MalformedNote(f"the signature is shorter than a key ID: {line!r}")
    return NoteSignature(name, raw[:4], raw[4:])


def _parse_body(text: str) -> Checkpoint:
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise MalformedNote("a checkpoint has at least three non-empty lines")
    origin, size, root = lines[:3]
    if not _SIZE.fullmatch(size) or int(size) >= 1 << 64:
        raise MalformedNote(f"the tree size is not a canonical uint64: {size!r}")
    try:
        root_hash = _b64decode(root)
    except ValueError:
        raise MalformedNote(f"the root hash is not canonical base64: {root!r}") from None
    if len(root_hash) != 32:
        raise MalformedNote("the root hash is not 32 bytes")
    try:
        return Checkpoint(origin, int(size), root_hash, tuple(lines[3:]))
    except ValueError as e:
        raise MalformedNote(str(e)) from None


def parse_checkpoint(note: str | bytes) -> SignedCheckpoint:
    """Parse a checkpoint note without verifying it; raises :class:`MalformedNote`."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise MalformedNote("the note is too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNote("the note is not valid UTF-8") from None
    if len(note) > MAX_NOTE_BYTES:
        raise MalformedNote("the note is too large")
    if not note.isascii():
        try:
            note.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedNote("the note is not valid UTF-8") from None
    if _CONTROL.search(note):
        raise MalformedNote("the note contains a control character other than newline")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n") or cut + 2 == len(note):
        raise MalformedNote("a note is text, a blank line, then signature lines")
    text, sig_block = note[: cut + 1], note[cut + 2 : -1]
    sig_lines = sig_block.split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise MalformedNote("the note has too many signatures")
    sigs = tuple(_parse_signature(line) for line in sig_lines)
    return SignedCheckpoint(_parse_body(text), sigs, text)


def verify_checkpoint(
    note: str | bytes | SignedCheckpoint, keys: Sequence[VerifierKey]
) -> Checkpoint:
    """The checkpoint, if at least one of ``keys`` signed it and none failed.

    Raises :class:`MalformedNote` or :class:`UnverifiedNote`.
    """
    signed = note if isinstance(note, SignedCheckpoint) else parse_checkpoint(note)
    message = signed.text.encode()
    verified: set[tuple[str, bytes]] = set()
    for sig in signed.signatures:
        for key in keys:
            if key.name != sig.name or key.key_id != sig.key_id:
                continue  # unknown keys are ignored, even with a known name or ID
            if not key.verifies(message, sig.signature):
                raise UnverifiedNote(f"the signature by {key.to_text()} does not verify")
            verified.add((key.name, key.key_id))
    if not verified:
        raise UnverifiedNote("no signature from a known key")
    return signed.checkpoint


def split_notes(text: str) -> list[str]:
    """Split concatenated checkpoint notes (blank lines between notes are allowed).

    A note ends after its last signature line, that is at the first line after its
    blank separator that does not start with an em dash. Checkpoint texts have no
    blank lines and our origins are key names (no spaces), so this is unambiguous for
    our own files; anything else comes out as a chunk that :func:`parse_checkpoint`
    rejects.
    """
    notes: list[str] = []
    current: list[str] = []
    in_signatures = False
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        if in_signatures and not line.startswith(_DASH) and current[-1] != "":
            notes.append("".join(part + "\n" for part in current))
            current, in_signatures = [], False
        if not current and line == "":
            continue
        current.append(line)
        if line == "" and not in_signatures:
            in_signatures = True
    if current:
        tail = "".join(part + "\n" for part in current)
        notes.append(tail if text.endswith("\n") else tail[:-1])
    return notes
