"""Reading an HL7 v2 ER7 payload: bytes to a regular, located segment structure.

Real senders are messy; this module absorbs, and reports, what it can:

- MLLP framing characters (``0x0B`` … ``0x1C 0x0D``) left by a caller, a UTF-8 BOM,
  surrounding whitespace;
- segment separators ``\\r`` (the standard), ``\\r\\n`` or ``\\n``; when the payload
  uses ``\\r``, a lone ``\\n`` is data. A line that does not start a segment is joined
  to the previous one (a text field broken by an editor), with a warning;
- character sets: MSH-18 when given (``UNICODE UTF-8``, ``8859/1``, ``8859/15``,
  ``ASCII``), else UTF-8, else Windows-1252 (an assumption, reported);
- any five encoding characters in MSH-1/MSH-2, checked to be distinct and not
  alphanumeric (v2.5 §2.5.4), including the v2.7 truncation character;
- escape sequences (v2.5 §2.7): ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\Xhh…\\``, ``\\.br\\``;
  formatting and character-set switches are dropped.

Fields are split lazily (field → repetitions → components → sub-components) and
unescaped when read, and every value can say where it came from (:class:`Hl7Location`).
What cannot be read raises :class:`Unreadable`, which the parser turns into an AR.

Why not :func:`hl7.parse`: python-hl7 builds a container object for every field and
component of every segment; on the 139 sample messages (3.9 kB on average) it parses
about 260 messages/s on the reference machine, which alone would use the pipeline's
whole 500 messages/s budget, while splitting lazily reads over 10,000 messages/s.
python-hl7 stays the reference: a test checks that this reader yields the same
structure as :func:`hl7.parse` for every sample, and that the ACKs built here parse.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from gateway.ingest.issues import Hl7Location

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "ASCII": "ascii",
    "": "",
}
_MAX_SEGMENTS = 10_000
ENVELOPE = ("FHS", "BHS", "BTS", "FTS")
"""The batch envelope segments (HL7 v2.5 §2.10.3): never part of one message."""


class Unreadable(ValueError):
    """The payload is not an HL7 v2 message that can be read at all (ACK AR)."""

    def __init__(self, reason: str, location: Hl7Location | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.location = location


@dataclass(frozen=True, slots=True)
class Separators:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


def unescape(text: str, seps: Separators) -> str:
    """Resolve HL7 escape sequences (v2.5 §2.7); unknown or unterminated ones are kept."""
    esc = seps.escape
    if esc not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        end = text.find(esc, i + 1) if ch == esc else -1
        if end < 0:
            out.append(ch)
            i += 1
            continue
        seq = text[i + 1 : end]
        i = end + 1
        simple = {
            "F": seps.field,
            "S": seps.component,
            "T": seps.subcomponent,
            "R": seps.repetition,
            "E": esc,
        }
        if seq in simple:
            out.append(simple[seq])
        elif seq in (".br", ".sp"):
            out.append("\n")
        elif seq.startswith("X") and len(seq) % 2 == 1:
            try:
                out.append(bytes.fromhex(seq[1:]).decode("latin-1"))
            except ValueError:
                out.append(esc + seq + esc)
        elif seq[:1] in ("H", "N", "C", "M", "Z", ".") and seq:
            continue  # highlighting, charset switches, formatting: no FHIR equivalent
        else:
            out.append(esc + seq + esc)
    return "".join(out)


class Composite:
    """One repetition of a field: components of sub-components, with its location.

    Immutable by contract. A plain slotted class whose :attr:`location` is built when
    asked for, not a frozen dataclass holding one: a message splits every field it
    reads into these, reports on few of them, and a frozen dataclass's ``__init__``
    plus an :class:`Hl7Location` per repetition were a tenth of the parse.
    """

    __slots__ = ("_at", "parts", "seps")

    def __init__(
        self,
        parts: tuple[tuple[str, ...], ...],
        seps: Separators,
        at: tuple[str, int, int, int],
    ) -> None:
        self.parts = parts
        self.seps = seps
        self._at = at  # segment, sequence, field, repetition

    @property
    def location(self) -> Hl7Location:
        return Hl7Location(*self._at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Composite):
            return NotImplemented
        return (self.parts, self.seps, self._at) == (other.parts, other.seps, other._at)

    def __hash__(self) -> int:
        return hash((self.parts, self.seps, self._at))

    def __repr__(self) -> str:
        return f"Composite(parts={self.parts!r}, location={self.location!r})"

    @property
    def empty(self) -> bool:
        for comp in self.parts:
            for sub in comp:
                if sub and not sub.isspace():
                    return False
        return True

    def c(self, component: int = 1, sub: int = 1) -> str:
        """Component (1-based), sub-component (1-based), unescaped and stripped."""
        if component > len(self.parts):
            return ""
        subs = self.parts[component - 1]
        if sub > len(subs):
            return ""
        return unescape(subs[sub - 1], self.seps).strip()

    def raw(self, component: int = 1) -> str:
        """A component as sent, sub-components joined, escapes kept."""
        if component > len(self.parts):
            return ""
        return self.seps.subcomponent.join(self.parts[component - 1])

    def at(self, component: int | None = None, sub: int | None = None) -> Hl7Location:
        return Hl7Location(*self._at, component, sub)

    def text(self) -> str:
        """The whole repetition as text (components joined by the component separator)."""
        joined = self.seps.component.join(self.seps.subcomponent.join(c) for c in self.parts)
        return unescape(joined, self.seps).strip()


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment; field ``n`` is numbered as in the standard (MSH-1 is the separator).

    Fields are kept as sent and split into repetitions and components only when read.
    """

    name: str
    sequence: int
    fields: tuple[str, ...]  # fields[n] is field n; fields[0] is the segment id
    seps: Separators
    _reps: dict[int, list[Composite]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def location(self) -> Hl7Location:
        return Hl7Location(self.name, self.sequence)

    def _split(self, n: int, text: str) -> list[tuple[tuple[str, ...], ...]]:
        seps = self.seps
        if self.name == "MSH" and n <= 2:
            return [((text,),)]
        sub, component = seps.subcomponent, seps.component
        return [
            tuple((c,) if sub not in c else tuple(c.split(sub)) for c in rep.split(component))
            for rep in text.split(seps.repetition)
        ]

    def _all(self, n: int) -> list[Composite]:
        """Every repetition of field ``n`` (split once, then cached)."""
        cached = self._reps.get(n)
        if cached is None:
            text = self.fields[n] if n < len(self.fields) else ""
            name, sequence, seps = self.name, self.sequence, self.seps
            cached = [
                Composite(parts, seps, (name, sequence, n, r))
                for r, parts in enumerate(self._split(n, text) if text else [], start=1)
            ]
            self._reps[n] = cached
        return cached

    def reps(self, n: int) -> list[Composite]:
        """The non-empty repetitions of field ``n``."""
        return [c for c in self._all(n) if not c.empty]

    def first(self, n: int) -> Composite:
        """Repetition 1 of field ``n`` (empty when absent)."""
        found = self._all(n)
        if found:
            return found[0]
        return Composite((), self.seps, (self.name, self.sequence, n, 1))

    def value(self, n: int, component: int = 1, sub: int = 1) -> str:
        """Field ``n``, repetition 1, as text: the fast path for the most common read."""
        if n >= len(self.fields) or not self.fields[n]:
            return ""
        text, seps = self.fields[n], self.seps
        if self.name == "MSH" and n <= 2:
            return text if component == sub == 1 else ""
        if seps.repetition in text:
            text = text.split(seps.repetition, 1)[0]
        if component > 1 or seps.component in text:
            comps = text.split(seps.component)
            if component > len(comps):
                return ""
            text = comps[component - 1]
        if sub > 1 or seps.subcomponent in text:
            subs = text.split(seps.subcomponent)
            if sub > len(subs):
                return ""
            text = subs[sub - 1]
        return unescape(text, seps).strip()

    def at(self, n: int, component: int | None = None) -> Hl7Location:
        return Hl7Location(self.name, self.sequence, n, None, component)

    def regular(self, n: int) -> tuple[tuple[tuple[str, ...], ...], ...]:
        """Field ``n`` at fixed depth, escapes kept (repetitions, components, subs)."""
        if n >= len(self.fields):
            return ()
        return tuple(self._split(n, self.fields[n]))


@dataclass(frozen=True, slots=True)
class Er7Message:
    """A parsed message: its segments in order, and how it was read."""

    segments: tuple[Segment, ...]
    seps: Separators
    charset: str
    notes: tuple[tuple[str, Hl7Location | None], ...]  # warnings met while reading
    envelope: tuple[Segment, ...] = ()
    """FHS/BHS segments before the MSH (a batch file): read, never a message's own."""

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def find(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)


def _declared_charset(data: bytes) -> str:
    head = data[: data.find(b"\r", 0, 4096) if b"\r" in data[:4096] else 4096]
    head = head.split(b"\n", 1)[0]
    if not head.startswith(b"MSH") or len(head) < 4:
        return ""
    fields = head.split(head[3:4])
    if len(fields) < 18:
        return ""
    return fields[17].decode("ascii", "replace").split("~")[0].split("^")[0].strip().upper()


def decode(payload: bytes | str) -> tuple[str, str, str | None]:
    """Bytes to text: (text, charset used, assumption made or None)."""
    if isinstance(payload, str):
        return payload.lstrip("\ufeff"), "utf-8", None
    data = payload.strip(b"\x0b\x1c\r\n \t")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace"), "utf-8", None
    declared = _declared_charset(data)
    codec = _CHARSETS.get(declared)
    if codec:
        try:
            return data.decode(codec), codec, None
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError:
        why = f"MSH-18 {declared!r} is not supported or wrong" if declared else "MSH-18 empty"
        try:
            text = data.decode("cp1252")
            return text, "cp1252", f"payload is not UTF-8 and {why}: decoded as Windows-1252"
        except UnicodeDecodeError:
            return (
                data.decode("latin-1"),
                "latin-1",
                f"payload is not UTF-8 and {why}: decoded as Latin-1",
            )


def _separators(text: str) -> Separators:
    if not text.startswith(("MSH", "FHS", "BHS")):
        found = text[:3] if text[:3].isprintable() else "binary data"
        raise Unreadable(f"a message must start with MSH, found {found!r}", Hl7Location("MSH"))
    if len(text) < 8:
        raise Unreadable(
            "MSH is truncated before its encoding characters", Hl7Location("MSH", 1, 2)
        )
    field = text[3]
    end = text.find(field, 4)
    encoding = text[4:end] if end > 0 else ""
    chars = field + encoding
    if (
        not 4 <= len(encoding) <= 5
        or len(set(chars)) != len(chars)
        or any(c.isalnum() or c in "\r\n " for c in chars)
    ):
        raise Unreadable(
            f"invalid encoding characters {encoding!r} after field separator {field!r}",
            Hl7Location("MSH", 1, 2),
        )
    return Separators(field, encoding[0], encoding[1], encoding[2], encoding[3])


def _lines(text: str, seps: Separators) -> tuple[list[str], list[tuple[str, Hl7Location | None]]]:
    raw_lines = text.replace("\r\n", "\r").split("\r") if "\r" in text else text.split("\n")
    lines: list[str] = []
    notes: list[tuple[str, Hl7Location | None]] = []
    for number, raw in enumerate(raw_lines, start=1):
        line = raw.strip(" \t\n\x00\x0b\x1c")
        if not line:
            continue
        head = line[:3]
        if _SEGMENT_ID.match(head) and (len(line) == 3 or line[3] == seps.field):
            lines.append(line)
        elif lines:
            lines[-1] += "\n" + line
            notes.append(
                (f"line {number} does not start a segment: joined to the previous one", None)
            )
        else:  # pragma: no cover - the MSH check runs first
            raise Unreadable("no segment found")
    if len(lines) > _MAX_SEGMENTS:
        raise Unreadable(f"more than {_MAX_SEGMENTS} segments")
    return lines, notes


def read(text: str, charset: str = "utf-8") -> Er7Message:
    """Parse ER7 text into an :class:`Er7Message`; raises :class:`Unreadable`."""
    text = text.strip("\ufeff\x0b\x1c\r\n \t")
    seps = _separators(text)
    lines, notes = _lines(text, seps)
    counts: dict[str, int] = {}
    segments = []
    for line in lines:
        parts = line.split(seps.field)
        name = parts[0]
        counts[name] = counts.get(name, 0) + 1
        header = name in ("MSH", "FHS", "BHS")
        fields = (name, seps.field, *parts[1:]) if header else tuple(parts)
        segments.append(Segment(name, counts[name], fields, seps))
    # A batch (FHS/BHS first): the envelope is kept apart, the first MSH read as the
    # message's, so that the refusal of the batch can answer its control id.
    start = next((i for i, s in enumerate(segments) if s.name == "MSH"), None)
    if start is None or any(s.name not in ENVELOPE for s in segments[:start]):
        raise Unreadable(
            f"a message must start with MSH, found {segments[0].name!r}", Hl7Location("MSH")
        )
    return Er7Message(tuple(segments[start:]), seps, charset, tuple(notes), tuple(segments[:start]))


def content_digest(payload: bytes | str) -> str:
    """SHA-256 (hex) of a message as content: its segments, whatever their terminators,
    with MSH-7 (the time the message was sent) left out, since a sender may stamp a
    resend anew. Two payloads with one digest say the same thing; used to tell a resend
    from a different message that reuses a control id (MSH-10). A payload that cannot be
    read is its raw bytes."""
    text, _charset, _note = decode(payload)
    try:
        seps = _separators(text)
        lines, _notes = _lines(text, seps)
    except Unreadable:
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        return hashlib.sha256(data).hexdigest()
    msh = lines[0].split(seps.field)
    if len(msh) > 6:
        msh[6] = ""
    lines[0] = seps.field.join(msh)
    return hashlib.sha256("\r".join(lines).encode("utf-8")).hexdigest()
