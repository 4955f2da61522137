"""Telling what a file holds, and splitting HL7 v2 batch files into messages (pure).

``--format auto`` decides by extension first, then by content:

- ``.hl7``, ``.er7``, ``.hl7v2``, or content starting with ``MSH``, ``FHS``, ``BHS`` or
  an MLLP start block: HL7 v2;
- ``.json`` or content starting with ``{``: FHIR;
- ``.csv`` (or ``.txt`` that is not HL7): CSV, whose kind is the one named in the file
  name (``vitals-2024-01.csv``, ``Residents.csv``, ``care_notes.csv``…).

An HL7 file may hold several messages: MLLP-framed, or one after the other (each
starts with ``MSH``); the batch envelope segments (FHS, BHS, BTS, FTS, HL7 v2.5 §2.10.3)
are dropped.
"""

from __future__ import annotations

import re
from pathlib import PurePath

HL7_SUFFIXES = frozenset({".hl7", ".er7", ".hl7v2"})
DATA_SUFFIXES = HL7_SUFFIXES | {".csv", ".json", ".txt"}
"""What a folder walk picks up; files named on the command line are always read."""
_ENVELOPE = ("FHS", "BHS", "BTS", "FTS")
_MESSAGE_START = re.compile(rb"(?:^|(?<=[\r\n]))MSH")
_ENVELOPE_LINE = re.compile(rb"(?:^|(?<=[\r\n]))(?:FHS|BHS|BTS|FTS)[^\r\n]*(?:\r\n|\r|\n)?")


class UnknownFormat(ValueError):
    """The format (or the CSV kind) of a file cannot be told; the message says why."""


def _kind_from_name(name: str, kinds: tuple[str, ...]) -> str | None:
    stem = PurePath(name).stem.lower().replace("_", "-")
    found = [k for k in kinds if k in stem]
    return max(found, key=len) if found else None


def detect(name: str, head: bytes, forced: str, kinds: tuple[str, ...]) -> tuple[str, str | None]:
    """``(format, csv kind)`` of a file; ``forced`` is ``--format``."""
    if forced.startswith("csv:"):
        kind = forced[4:]
        if kind not in kinds:
            raise UnknownFormat(f"unknown CSV kind {kind!r}; known: {', '.join(kinds)}")
        return "csv", kind
    if forced in ("hl7v2", "fhir"):
        return forced, None
    if forced not in ("auto", "csv"):
        raise UnknownFormat(f"unknown format {forced!r}: auto, hl7v2, csv:KIND or fhir")
    suffix = PurePath(name).suffix.lower()
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if forced == "auto":
        if suffix in HL7_SUFFIXES or text.startswith((b"MSH", b"FHS", b"BHS", b"\x0b")):
            return "hl7v2", None
        if suffix == ".json" or text.startswith(b"{"):
            return "fhir", None
    named = _kind_from_name(name, kinds)
    if named is None:
        raise UnknownFormat(
            f"{name}: cannot tell the CSV kind from the file name; use --format csv:KIND "
            f"({', '.join(kinds)})"
        )
    return "csv", named


def split_hl7(data: bytes) -> list[bytes]:
    """The messages of an HL7 v2 file (MLLP-framed or not), batch envelope removed.

    Each message keeps its own bytes (segment separators included), so its SHA-256 in
    the Provenance is that of what the sender wrote.
    """
    if b"\x0b" in data:
        frames = [part.split(b"\x1c", 1)[0] for part in data.split(b"\x0b")[1:]]
        return [f for f in frames if f.strip()]
    body = data.removeprefix(b"\xef\xbb\xbf")
    starts = [m.start() for m in _MESSAGE_START.finditer(body)]
    if not starts:
        return [body] if body.strip() else []
    out = []
    for begin, end in zip(starts, [*starts[1:], len(body)], strict=True):
        message = _ENVELOPE_LINE.sub(b"", body[begin:end])
        if message.strip():
            out.append(message)
    return out
