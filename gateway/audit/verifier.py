"""Offline verification of a whole audit log against its signed checkpoints.

Written to be read in one sitting. It imports, from the gateway, only
:mod:`gateway.audit.merkle` (RFC 9162 hashing) and :mod:`gateway.audit.checkpoint`
(C2SP signed notes; itself only the standard library and ``cryptography``).

What is checked
---------------
1. Every checkpoint parses, comes from the expected origin, and carries a valid
   signature by one of the supplied public keys (old keys too, after a rotation).
2. The entries are numbered 0, 1, 2, ... with no gap, duplicate or reordering.
3. The root recomputed from the entries (RFC 9162 §2.1.1) equals the signed root of
   every checkpoint. Since all roots come from one entry sequence, matching roots
   also prove that consecutive checkpoints are consistent (RFC 9162 §2.1.4: the
   older tree is a prefix of the newer one).
4. The log is not shorter than its largest checkpoint.

The roots are computed in one streaming pass with a stack of subtree hashes (the
compact range of the tree so far), so memory is O(log n) and each leaf costs one
leaf hash plus, on average, one node hash.

Where the verdict points
------------------------
``first_bad_seq`` is the earliest sequence number that cannot be vouched for:

- a gap, duplicate or out-of-order number, or an unreadable line: that position;
- entries missing at the end: the first missing number;
- a stored leaf hash (optional ``leaf`` field) that does not match its entry: that
  entry, exactly;
- a root mismatch otherwise: the size of the last checkpoint that still matched,
  since a checkpoint commits to a whole prefix, not to single entries.

A checkpoint whose root contradicts a matching checkpoint of the same or a larger
size (or that is unsigned, malformed, or from another origin) is reported in
``bad_checkpoint``, its 0-based position in the checkpoints input: the entries are
then fine, the checkpoint is not. A mismatch at the *newest* checkpoint has nothing
after it to decide by, so it is reported against the entries it covers.

Export format
-------------
UTF-8 NDJSON, one line per entry in sequence order from 0, each ending in ``\\n``,
written exactly as :func:`format_export_line` does (no spaces, fixed key order)::

    {"seq":0,"entry":{...the exact entry bytes, verbatim...}}
    {"seq":1,"leaf":"<base64 stored leaf hash>","entry":{...}}
    {"seq":2,"entry_b64":"<base64 of the entry bytes>"}

An entry that is a one-line JSON object is embedded verbatim, so the export stays
readable with ``jq`` and an entry's bytes are everything between ``"entry":`` and
the line's final ``}``. The verifier hashes those bytes and never parses them, so any
re-serialisation of a line (pretty-printing, key reordering) breaks verification, as
it must. Other bytes use ``entry_b64``. ``leaf`` is optional and only sharpens the
diagnosis (the hash stored at write time); the tree is always recomputed.

Checkpoints file: the checkpoint notes concatenated as served, blank lines between
them allowed (:func:`gateway.audit.checkpoint.split_notes`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from gateway.audit import merkle
from gateway.audit.checkpoint import (
    CheckpointError,
    VerifierKey,
    split_notes,
    verify_checkpoint,
)

Entry = tuple[int, bytes, bytes | None]
"""``(seq, entry bytes, stored leaf hash or None)``."""

_LINE = re.compile(
    rb'\{"seq":(0|[1-9][0-9]{0,18}),(?:"leaf":"([A-Za-z0-9+/]{43}=)",)?"(entry|entry_b64)":'
)


class ExportError(ValueError):
    """A line of the export does not follow the format."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"export line {line_number}: {reason}")
        self.line_number = line_number


def format_export_line(seq: int, entry: bytes, leaf: bytes | None = None) -> bytes:
    """One export line for ``entry`` at ``seq`` (the exporter's half of the format)."""
    head = b'{"seq":%d,' % seq
    if leaf is not None:
        head += b'"leaf":"' + base64.b64encode(leaf) + b'",'
    if entry[:1] == b"{" and entry[-1:] == b"}" and b"\n" not in entry and b"\r" not in entry:
        try:
            entry.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return head + b'"entry":' + entry + b"}\n"
    return head + b'"entry_b64":"' + base64.b64encode(entry) + b'"}\n'


def parse_export(lines: Iterable[bytes]) -> Iterator[Entry]:
    """The entries of an export, in file order; raises :class:`ExportError`."""
    match = _LINE.match
    for number, line in enumerate(lines, start=1):
        m = match(line)
        if m is None or not line.endswith(b"}\n"):
            raise ExportError(number, 'not a {"seq":N,..."entry":...} line ending in }\\n')
        leaf = base64.b64decode(m[2]) if m[2] is not None else None
        body = line[m.end() : -2]
        if m[3] == b"entry":
            if body[:1] != b"{":
                raise ExportError(number, "a verbatim entry is a JSON object")
            yield int(m[1]), body, leaf
            continue
        if len(body) < 2 or body[:1] != b'"' or body[-1:] != b'"':
            raise ExportError(number, "entry_b64 is a base64 string")
        try:
            data = binascii.a2b_base64(body[1:-1], strict_mode=True)
        except binascii.Error:
            raise ExportError(number, "entry_b64 is not valid base64") from None
        yield int(m[1]), data, leaf


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of :func:`verify`. ``ok`` is False on any problem."""

    ok: bool
    message: str
    first_bad_seq: int | None = None
    bad_checkpoint: int | None = None
    entries_checked: int = 0
    checkpoints_checked: int = 0
    verified_size: int = 0  # the largest checkpoint size the entries match


@dataclass(frozen=True, slots=True)
class _Head:
    position: int
    size: int
    root: bytes


def _accept_checkpoints(
    notes: Iterable[str], keys: Sequence[VerifierKey], origin: str | None
) -> tuple[list[_Head], list[tuple[int, str]]]:
    """Signed checkpoints sorted by size, and the rejected ones with the reason."""
    heads: list[_Head] = []
    rejected: list[tuple[int, str]] = []
    for position, note in enumerate(notes):
        try:
            cp = verify_checkpoint(note, keys)
        except CheckpointError as e:
            rejected.append((position, f"checkpoint #{position} rejected: {e}"))
            continue
        if origin is None:
            origin = cp.origin
        if cp.origin != origin:
            rejected.append((position, f"checkpoint #{position} is for log {cp.origin!r}"))
            continue
        heads.append(_Head(position, cp.size, cp.root))
    heads.sort(key=lambda h: (h.size, h.position))
    return heads, rejected


@dataclass(slots=True)
class _Scan:
    """What one pass over the entries found."""

    size: int = 0  # entries hashed, in order from seq 0
    roots: dict[int, bytes] = field(default_factory=lambda: {0: merkle.EMPTY_ROOT})
    first_leaf_mismatch: int | None = None
    stop: tuple[int, str] | None = None  # (seq, why) if the pass stopped early


def _scan(entries: Iterable[Entry], targets: Sequence[int]) -> _Scan:
    """Hash the entries in order, keeping the root at every size in ``targets``."""
    out = _Scan()
    sha256, leaf_prefix, node_prefix = hashlib.sha256, merkle.LEAF_PREFIX, merkle.NODE_PREFIX
    stack: list[bytes] = []  # hashes of the complete subtrees covering [0, size)
    size = 0
    pending = iter(sorted(t for t in set(targets) if t > 0))
    next_target = next(pending, -1)
    try:
        for seq, data, stored_leaf in entries:
            if seq != size:
                why = "a gap" if seq > size else "a duplicate or out-of-order entry"
                out.stop = (size, f"expected seq {size}, found seq {seq}: {why}")
                break
            h = sha256(leaf_prefix + data).digest()
            if stored_leaf is not None and stored_leaf != h and out.first_leaf_mismatch is None:
                out.first_leaf_mismatch = size
            size += 1
            n = size
            while not n & 1:  # one merge per trailing zero bit of the new size
                h = sha256(node_prefix + stack.pop() + h).digest()
                n >>= 1
            stack.append(h)
            if size == next_target:
                out.roots[size] = merkle.root_from_peaks(stack)
                next_target = next(pending, -1)
    except ExportError as e:
        out.stop = (size, str(e))
    out.size = size
    return out


def _judge(heads: list[_Head], rejected: list[tuple[int, str]], scan: _Scan) -> Verdict:
    """Turn the checkpoints and the scan into a verdict (see the module docstring)."""
    findings: list[tuple[int, str]] = [scan.stop] if scan.stop else []
    roots, size, leaf_bad = scan.roots, scan.size, scan.first_leaf_mismatch
    checked = [cp for cp in heads if cp.size in roots]
    last_good = max((cp.size for cp in checked if roots[cp.size] == cp.root), default=0)
    for cp in checked:
        if roots[cp.size] != cp.root and cp.size <= last_good:
            against = f"the matching checkpoint at size {last_good}" if cp.size else "an empty tree"
            why = f"its root contradicts {against}: forged, or the log forked"
            rejected.append((cp.position, f"checkpoint #{cp.position} (size {cp.size}): {why}"))
    broken = [cp for cp in checked if roots[cp.size] != cp.root and cp.size > last_good]
    if broken:
        end = broken[0].size
        where = leaf_bad if leaf_bad is not None and last_good <= leaf_bad < end else last_good
        why = "was changed, removed, inserted or reordered"
        findings.append(
            (
                where,
                f"the entries do not match checkpoint #{broken[0].position}: "
                f"an entry in seq {last_good}..{end - 1} {why}",
            )
        )
    if leaf_bad is not None:
        findings.append((leaf_bad, f"entry {leaf_bad} differs from its stored leaf hash"))
    if scan.stop is None and heads and heads[-1].size > size:
        findings.append(
            (
                size,
                f"the log has {size} entries but checkpoint #{heads[-1].position} covers "
                f"{heads[-1].size}: entries from seq {size} are missing",
            )
        )
    if not heads and not rejected:
        rejected.append((-1, "no checkpoint: nothing anchors the log"))

    if not findings and not rejected:
        tail = size - last_good
        note = f"; the last {tail} entries are not yet under a checkpoint" if tail else ""
        message = f"{size} entries match {len(checked)} checkpoints{note}"
    else:
        findings.sort()
        rejected.sort()
        message = "; ".join([f[1] for f in findings[:1]] + [r[1] for r in rejected[:1]])
    return Verdict(
        ok=not findings and not rejected,
        message=message,
        first_bad_seq=findings[0][0] if findings else None,
        bad_checkpoint=rejected[0][0] if rejected and rejected[0][0] >= 0 else None,
        entries_checked=size,
        checkpoints_checked=len(checked),
        verified_size=last_good,
    )


def verify(
    entries: Iterable[Entry],
    checkpoints: Iterable[str],
    keys: Sequence[VerifierKey],
    *,
    origin: str | None = None,
) -> Verdict:
    """Verify a complete log (all entries from seq 0) against signed checkpoints.

    ``origin`` pins the log identity; by default it is taken from the first valid
    checkpoint. ``entries`` may raise :class:`ExportError` while being read.
    """
    heads, rejected = _accept_checkpoints(checkpoints, keys, origin)
    scan = _scan(entries, [cp.size for cp in heads])
    return _judge(heads, rejected, scan)


def verify_export(
    lines: Iterable[bytes], checkpoints_text: str, keys: Sequence[VerifierKey]
) -> Verdict:
    """:func:`verify` over export lines and a concatenated checkpoints file."""
    return verify(parse_export(lines), split_notes(checkpoints_text), keys)
