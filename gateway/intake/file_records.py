"""The records of a CSV file: their ledger rows and quarantine entries.

A :class:`CsvRecord` is one record of a file with its idempotency key and the payload
quarantine keeps for it (the file's header line, then the record's exact text, so that
it can be replayed on its own). The functions here record first outcomes and
quarantine records; :mod:`gateway.intake.files` runs the flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.ingest.issues import IngestIssue
from gateway.ingest.result import ParseResult
from gateway.intake import ledger
from gateway.intake import quarantine as q
from gateway.intake.outcome import RowOutcome
from gateway.intake.records import entry
from gateway.intake.sender import Sender
from gateway.intake.unit import WriteUnit, write_unit
from gateway.record.services import RecordServices


@dataclass(frozen=True, slots=True)
class CsvRecord:
    line: int
    raw: str
    key: str
    payload: bytes  # header line + record: what quarantine keeps and replay parses
    result: ParseResult | None = None  # None: refused by the parser
    issues: tuple[IngestIssue, ...] = ()


@dataclass(frozen=True, slots=True)
class CsvFile:
    """Facts of the file that every chunk's Provenance and entry needs."""

    sender: Sender
    kind: str
    name: str | None
    received: int
    sha256: str
    assumptions: tuple[str, ...]
    replay: q.QuarantineEntry | None


def whole_file(
    services: RecordServices, payload: bytes, f: CsvFile, issues: Sequence[IngestIssue]
) -> str:
    """Quarantine a file that is unusable as a whole and has no record (once)."""
    key = ledger.ledger_key(f.sender, "csv-file", (f.sha256,))
    with write_unit(services) as unit:
        ledger.lock(unit.tx, [key])
        hit = ledger.find(unit.conn, [key]).get(key)
        if hit is not None and f.replay is None:
            return hit.quarantine_id or ""
        if f.replay is not None:
            q.reopen(unit.conn, f.replay.id, f.received, issues)
            return f.replay.id
        stored = entry(
            f.sender,
            fmt="csv",
            kind=f"csv:{f.kind}",
            received=f.received,
            payload=payload,
            issues=issues,
            key=key,
            message_id=f.name,
        )
        q.add(unit.conn, [stored])
        ledger.add(unit.conn, [record(f, key, "quarantined", {}, stored.id)])
        return stored.id


def record(
    f: CsvFile,
    key: str,
    status: str,
    response: dict[str, Any],
    quarantine_id: str | None = None,
    provenance_id: str | None = None,
) -> ledger.LedgerRecord:
    return ledger.LedgerRecord(
        key=key,
        source=f.sender.client_id,
        structure=f.sender.structure,
        format="csv",
        kind=f"csv:{f.kind}",
        message_id=f.name,
        payload_sha256=f.sha256,
        received=f.received,
        status=status,
        response=orjson.dumps(response),
        quarantine_id=quarantine_id,
        provenance_id=provenance_id,
    )


def duplicate(r: CsvRecord, hit: ledger.LedgerRecord) -> RowOutcome:
    """A record seen before: its first outcome."""
    first: Any = orjson.loads(hit.response) if hit.response else {}
    return RowOutcome(
        line=r.line,
        status="duplicate",
        quarantine_id=hit.quarantine_id,
        first=False,
        first_status=hit.status,
        first_response=first if isinstance(first, dict) else None,
    )


def quarantine_in(
    unit: WriteUnit,
    rows: Sequence[CsvRecord],
    f: CsvFile,
    issues: Sequence[IngestIssue] | None,
    *,
    reason: str = "rejected",
    details: dict[str, Any] | None = None,
    patient_id: str | None = None,
) -> dict[int, RowOutcome]:
    """Quarantine ``rows`` (their own parse issues, or ``issues``) in ``unit``."""
    out: dict[int, RowOutcome] = {}
    entries: list[q.QuarantineEntry] = []
    records: list[ledger.LedgerRecord] = []
    for r in rows:
        row_issues = tuple(issues) if issues is not None else r.issues
        if f.replay is not None:
            q.reopen(unit.conn, f.replay.id, f.received, row_issues)
            quarantine_id = f.replay.id
        else:
            stored = entry(
                f.sender,
                fmt="csv",
                kind=f"csv:{f.kind}",
                received=f.received,
                payload=r.payload,
                issues=row_issues,
                reason=reason,
                key=r.key,
                message_id=f.name,
                line=r.line,
                details=details,
                patient_id=patient_id,
            )
            entries.append(stored)
            quarantine_id = stored.id
        outcome = RowOutcome(r.line, "quarantined", row_issues, quarantine_id)
        out[r.line] = outcome
        records.append(record(f, r.key, "quarantined", outcome.to_json(), quarantine_id))
    q.add(unit.conn, entries)
    if f.replay is None:
        ledger.add(unit.conn, records)
    return out


def quarantine_rows(
    services: RecordServices,
    rows: Sequence[CsvRecord],
    f: CsvFile,
    issues: Sequence[IngestIssue] | None,
) -> dict[int, RowOutcome]:
    """Quarantine ``rows`` in their own transaction (first outcomes win)."""
    with write_unit(services) as unit:
        keys = [r.key for r in rows]
        ledger.lock(unit.tx, keys)
        hits = ledger.find(unit.conn, keys) if f.replay is None else {}
        out = {r.line: duplicate(r, hits[r.key]) for r in rows if r.key in hits}
        fresh = [r for r in rows if r.key not in hits]
        out.update(quarantine_in(unit, fresh, f, issues))
        return out
