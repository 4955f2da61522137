"""What ingesting a payload did, for the HTTP, MLLP and CLI adapters to report.

Every submitted unit (an HL7 message, a CSV record) ends in exactly one status:

- ``accepted``: stored; at least one resource was created or updated;
- ``duplicate``: nothing new: the same message was ingested before (``first`` is
  False and the stored first answer is returned), or every fact it carries was already
  stored (the same fact from another channel, deduplicated on business identifiers);
- ``quarantined``: not stored; kept in quarantine with the issues.

So ``accepted + duplicate + quarantined == submitted``, always (issue 5, "nothing is
ever lost silently").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.ingest.issues import IngestIssue
from gateway.ingest.result import AckCode
from gateway.intake.commit import Written

Status = Literal["accepted", "duplicate", "quarantined"]
STATUSES: tuple[Status, ...] = ("accepted", "duplicate", "quarantined")


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    """One HL7 v2 message."""

    status: Status
    kind: str
    key: str
    ack: str  # the ACK, ER7 with \r, no MLLP framing
    ack_code: AckCode
    issues: tuple[IngestIssue, ...] = ()
    quarantine_id: str | None = None
    reviews: tuple[str, ...] = ()
    written: tuple[Written, ...] = ()
    provenance: str | None = None
    first: bool = True
    first_status: str | None = None
    charset: str = "utf-8"

    @property
    def ack_bytes(self) -> bytes:
        """The ACK in the message's own character set (MSH-18), as senders expect."""
        try:
            return self.ack.encode(self.charset, errors="replace")
        except LookupError:
            return self.ack.encode("utf-8")


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """One CSV record (``line`` in its file)."""

    line: int
    status: Status
    issues: tuple[IngestIssue, ...] = ()
    quarantine_id: str | None = None
    reviews: tuple[str, ...] = ()
    written: tuple[Written, ...] = ()
    first: bool = True
    first_status: str | None = None
    first_response: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "status": self.status}
        if not self.first:
            out["first"] = self.first_response or {"status": self.first_status}
        if self.quarantine_id:
            out["quarantine"] = self.quarantine_id
        if self.reviews:
            out["review"] = list(self.reviews)
        if self.written:
            out["resources"] = [w.to_json() for w in self.written]
        if self.issues:
            out["issues"] = [i.to_fhir() for i in self.issues]
        return out


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """One CSV file (or a FHIR Bundle file): its records' outcomes and file-level facts."""

    kind: str
    rows: tuple[RowOutcome, ...]
    issues: tuple[IngestIssue, ...] = ()
    assumptions: tuple[str, ...] = ()
    provenance: tuple[str, ...] = ()
    unreadable: bool = False  # the file as a whole could not be used
    file_quarantine: str | None = None  # when the file had no record to quarantine alone

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(r.status for r in self.rows)
        out: dict[str, int] = {s: counted.get(s, 0) for s in STATUSES}
        if self.file_quarantine and not self.rows:
            out["quarantined"] += 1
        return out

    @property
    def submitted(self) -> int:
        return sum(self.counts.values())


def summary_line(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    return (
        f"{total} submitted: {counts.get('accepted', 0)} accepted, "
        f"{counts.get('duplicate', 0)} duplicates, {counts.get('quarantined', 0)} quarantined"
    )


@dataclass(slots=True)
class Tally:
    """Counts by kind and status, for the CLI summary and the benchmarks."""

    by_kind: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, kind: str, statuses: Sequence[str]) -> None:
        self.by_kind.setdefault(kind, Counter()).update(statuses)

    def total(self, status: str) -> int:
        return sum(c.get(status, 0) for c in self.by_kind.values())
