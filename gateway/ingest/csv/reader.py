"""Reading a CSV export: bytes to records, each with its line number and raw text.

What real EHPAD exports do, and how it is absorbed:

- encoding: a BOM says it (UTF-8, UTF-16 LE/BE); else UTF-8 if the bytes decode as
  such; else Windows-1252 (what Excel writes on French Windows), an assumption that is
  reported; Latin-1 as the last resort (it decodes anything). A file that is UTF-8 but
  for some lines (rows pasted from another export) keeps UTF-8, and only those lines
  are read as Windows-1252, the assumption naming them: decoding it all as
  Windows-1252 would garble every accented header and value;
- separator: ``;`` (French Excel), ``,``, tab or ``|``, sniffed on the header line
  (outside quotes); ties go to ``;``;
- line endings ``\\r\\n``, ``\\n`` or ``\\r``; quoted fields may span lines;
- blank lines are skipped (they are not records).

Each record keeps the exact text it was read from, so a rejected row can be quarantined
as it was sent. A record that cannot be read (a quote left open, a field over the
``csv`` module's size limit) is returned as malformed, never raised; after an open
quote, reading starts again on the next line, so the rows behind it are not lost.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

_CANDIDATES = (";", ",", "\t", "|")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    assumption: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the line it starts on, its raw text, and its cells (None if malformed)."""

    line: int
    raw: str
    cells: list[str] | None
    error: str | None = None

    @property
    def blank(self) -> bool:
        return self.cells is not None and not any(c.strip() for c in self.cells)


def decode(data: bytes | str) -> Decoded:
    """Text of a CSV payload, with how it was decoded."""
    if isinstance(data, str):
        return Decoded(data.lstrip("\ufeff"), "utf-8")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return Decoded(data[len(bom) :].decode(codec, "replace"), codec)
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    mixed = _mostly_utf8(data)
    if mixed is not None:
        return mixed
    try:
        return Decoded(
            data.decode("cp1252"), "cp1252", "file is not UTF-8: decoded as Windows-1252"
        )
    except UnicodeDecodeError:
        return Decoded(data.decode("latin-1"), "latin-1", "file is not UTF-8: decoded as Latin-1")


def _mostly_utf8(data: bytes) -> Decoded | None:
    """UTF-8 with some lines in a single-byte encoding: those lines read as Windows-1252
    (Latin-1 for its five undefined bytes), the rest as UTF-8. None unless some line
    holds UTF-8 beyond ASCII (else the file is all single-byte: the caller's cases)."""
    texts: list[str] = []
    foreign: list[int] = []
    utf8_beyond_ascii = False
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            foreign.append(number)
            try:
                text = line.decode("cp1252")
            except UnicodeDecodeError:
                text = line.decode("latin-1")
        else:
            utf8_beyond_ascii = utf8_beyond_ascii or not line.isascii()
        texts.append(text)
    if not utf8_beyond_ascii:
        return None
    shown = ", ".join(str(n) for n in foreign[:10]) + (", …" if len(foreign) > 10 else "")
    return Decoded(
        "".join(texts),
        "utf-8",
        f"file is UTF-8 but for line(s) {shown}: those decoded as Windows-1252",
    )


def sniff_delimiter(header_line: str) -> str:
    """The separator that splits the header line into the most cells (outside quotes)."""
    counts = dict.fromkeys(_CANDIDATES, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_CANDIDATES, key=lambda c: (counts[c], c == ";"))
    return best if counts[best] else ";"


def first_line(text: str) -> str:
    for line in io.StringIO(text, newline=""):
        if line.strip():
            return line
    return ""


def records(text: str, delimiter: str) -> Iterator[Record]:
    """Every record of ``text``, in order, blank ones included (callers skip them).

    A quote left open (``"70,5;kg`` with no closing quote) makes the ``csv`` module read
    every following line into that cell, up to the next quote in the file or its end:
    the rows behind it would vanish into one rejected record. So a record spanning
    several lines is taken as written only if its quotes pair up and it has as many
    cells as the header (a care note of several lines does both); otherwise its first
    line alone is returned as malformed, naming the open quote, and reading starts
    again on the next line.
    """
    lines = io.StringIO(text, newline="").readlines()
    start = 0  # index of the first line not yet read
    width: int | None = None  # cells of the first non-blank record (the header)
    consumed = [0]  # index of the line after the last one the reader took

    def feed(first: int) -> Iterator[str]:
        for index in range(first, len(lines)):
            consumed[0] = index + 1
            yield lines[index]

    while start < len(lines):
        consumed[0] = start
        reader = csv.reader(feed(start), delimiter=delimiter, strict=False)
        while True:
            first = consumed[0]
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(first + 1, "".join(lines[first : consumed[0]]), None, str(exc))
                continue
            raw = "".join(lines[first : consumed[0]])
            spans = consumed[0] - first > 1
            if spans and (raw.count('"') % 2 or (width is not None and len(cells) != width)):
                yield Record(
                    first + 1,
                    lines[first],
                    None,
                    "a quote opened in this line is not closed on it, and what follows "
                    "does not read as the rest of one record (close the quote, or double "
                    'a quote inside a quoted value: "")',
                )
                start = first + 1
                break
            if width is None and any(c.strip() for c in cells):
                width = len(cells)
            yield Record(first + 1, raw, cells)
