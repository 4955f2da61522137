"""One CSV export, end to end: every record stored, deduplicated or quarantined.

:meth:`FileIntake.ingest` parses the file (:func:`gateway.ingest.parse_csv`), then:

- a record the parser refused is quarantined with its exact text, preceded by the
  file's header line, so that it can be replayed on its own;
- a file that is unusable as a whole (a required column missing) and has no record to
  quarantine is quarantined as a whole;
- accepted records are written in chunks of ``chunk_rows`` (one transaction, one
  Provenance per chunk). A write the rules or profiles refuse names the Bundle entry at
  fault; the records that own it are quarantined with that refusal and the rest of the
  chunk is retried (split in halves, so a chunk full of bad records costs O(k log n)
  transactions, not one per record);
- each record has its own idempotency key (kind, header and exact text): a record seen
  before is a ``duplicate`` and gets its first outcome back.

``accepted + duplicate + quarantined == submitted`` (:class:`FileOutcome.counts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from gateway.errors import Conflict, GatewayError, ServiceUnavailable
from gateway.ingest import CsvMapping, parse_csv
from gateway.ingest.csv.reader import decode, first_line
from gateway.ingest.issues import IngestIssue, error, warning
from gateway.ingest.result import ParseResult
from gateway.intake import ledger
from gateway.intake import quarantine as q
from gateway.intake.commit import Committer, StageFailure
from gateway.intake.failures import issues_of
from gateway.intake.outcome import FileOutcome, RowOutcome, Status
from gateway.intake.patient_index import TxPatientIndex, group_loader
from gateway.intake.plan import plan
from gateway.intake.provenance import ProvenanceFacts
from gateway.intake.records import GW_IDENTITY, entry, organization_of, provenance, review_entry
from gateway.intake.records import sha256 as digest_of
from gateway.intake.sender import Sender
from gateway.intake.unit import WriteUnit, write_unit
from gateway.normalise import Terminology
from gateway.record.services import RecordServices

RETRIES = 3


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    raw: str
    key: str
    payload: bytes  # header line + record: what quarantine keeps and replay parses
    result: ParseResult | None = None  # None: refused by the parser
    issues: tuple[IngestIssue, ...] = ()


@dataclass(frozen=True, slots=True)
class _File:
    """Facts of the file that every chunk's Provenance and entry needs."""

    sender: Sender
    kind: str
    name: str | None
    received: int
    sha256: str
    assumptions: tuple[str, ...]
    replay: q.QuarantineEntry | None


class FileIntake:
    def __init__(
        self,
        services: RecordServices,
        terminology: Terminology,
        mappings: Mapping[str, CsvMapping],
        *,
        chunk_rows: int = 200,
    ) -> None:
        self.services = services
        self.terminology = terminology
        self.mappings = mappings
        self.chunk_rows = chunk_rows

    def ingest(
        self,
        payload: bytes,
        kind: str,
        sender: Sender,
        *,
        name: str | None = None,
        replay: q.QuarantineEntry | None = None,
    ) -> FileOutcome:
        """Ingest one export of ``kind`` (``KeyError`` for an unknown kind)."""
        mapping = self.mappings[kind]
        received = self.services.clock()
        parsed = parse_csv(payload, mapping, sender.source, self.terminology)
        header = first_line(decode(payload).text)
        facts = _File(sender, kind, name, received, digest_of(payload), parsed.assumptions, replay)
        rows: list[_Row] = []

        def row(line: int, raw: str, **more: Any) -> _Row:
            text = (header if header.endswith(("\n", "\r")) else header + "\r\n") + raw
            key = ledger.ledger_key(
                sender.client_id, sender.structure, "csv", (kind, header.strip(), raw.strip())
            )
            return _Row(line, raw, key, text.encode("utf-8"), **more)

        for rejected in parsed.rejected:
            rows.append(row(rejected.line, rejected.raw, issues=rejected.issues))
        for accepted in parsed.accepted:
            rows.append(row(accepted.line, accepted.raw, result=accepted.result))
        rows.sort(key=lambda r: r.line)
        file_errors = tuple(i for i in parsed.issues if i.is_error)
        if not rows and file_errors:
            outcome = self._whole_file(payload, facts, file_errors)
            return FileOutcome(
                kind=f"csv:{kind}",
                rows=(),
                issues=parsed.issues,
                assumptions=parsed.assumptions,
                unreadable=True,
                file_quarantine=outcome,
            )
        outcomes: dict[int, RowOutcome] = {}
        provenances: list[str] = []
        refused = [r for r in rows if r.result is None]
        if refused:
            outcomes.update(self._quarantine_rows(refused, facts, None))
        good = [r for r in rows if r.result is not None]
        for start in range(0, len(good), self.chunk_rows):
            done, prov = self._chunk(good[start : start + self.chunk_rows], facts)
            outcomes.update(done)
            provenances.extend(prov)
        return FileOutcome(
            kind=f"csv:{kind}",
            rows=tuple(outcomes[r.line] for r in rows),
            issues=parsed.issues,
            assumptions=parsed.assumptions,
            provenance=tuple(provenances),
            unreadable=bool(file_errors),
        )

    # -- whole file and refused rows ---------------------------------------------------------

    def _whole_file(self, payload: bytes, f: _File, issues: Sequence[IngestIssue]) -> str:
        key = ledger.ledger_key(f.sender.client_id, f.sender.structure, "csv-file", (f.sha256,))
        with write_unit(self.services) as unit:
            ledger.lock(unit.tx, [key])
            hit = ledger.find(unit.conn, [key]).get(key)
            if hit is not None and f.replay is None:
                return hit.quarantine_id or ""
            if f.replay is not None:
                q.set_status(
                    unit.conn,
                    f.replay.id,
                    "open",
                    f.received,
                    issues=[i.to_fhir() for i in issues],
                    attempted=True,
                )
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
            ledger.add(unit.conn, [self._record(f, key, "quarantined", {}, stored.id)])
            return stored.id

    def _record(
        self,
        f: _File,
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

    def _duplicate(self, r: _Row, hit: ledger.LedgerRecord) -> RowOutcome:
        first: Any = orjson.loads(hit.response) if hit.response else {}
        return RowOutcome(
            line=r.line,
            status="duplicate",
            quarantine_id=hit.quarantine_id,
            first=False,
            first_status=hit.status,
            first_response=first if isinstance(first, dict) else None,
        )

    def _quarantine_in(
        self,
        unit: WriteUnit,
        rows: Sequence[_Row],
        f: _File,
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
                q.set_status(
                    unit.conn,
                    f.replay.id,
                    "open",
                    f.received,
                    issues=[i.to_fhir() for i in row_issues],
                    attempted=True,
                )
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
            records.append(self._record(f, r.key, "quarantined", outcome.to_json(), quarantine_id))
        q.add(unit.conn, entries)
        if f.replay is None:
            ledger.add(unit.conn, records)
        return out

    def _quarantine_rows(
        self, rows: Sequence[_Row], f: _File, issues: Sequence[IngestIssue] | None
    ) -> dict[int, RowOutcome]:
        """Quarantine ``rows`` in their own transaction (first outcomes win)."""
        with write_unit(self.services) as unit:
            keys = [r.key for r in rows]
            ledger.lock(unit.tx, keys)
            hits = ledger.find(unit.conn, keys) if f.replay is None else {}
            out = {r.line: self._duplicate(r, hits[r.key]) for r in rows if r.key in hits}
            fresh = [r for r in rows if r.key not in hits]
            out.update(self._quarantine_in(unit, fresh, f, issues))
            return out

    # -- accepted rows, by chunk ---------------------------------------------------------------

    def _chunk(self, rows: list[_Row], f: _File) -> tuple[dict[int, RowOutcome], list[str]]:
        outcomes: dict[int, RowOutcome] = {}
        provenances: list[str] = []
        queue: list[list[_Row]] = [rows]
        attempts = 0
        while queue:
            part = queue.pop()
            try:
                with write_unit(self.services) as unit:
                    done, prov = self._write(unit, part, f)
                outcomes.update(done)
                if prov:
                    provenances.append(prov)
                continue
            except StageFailure as exc:
                failure: GatewayError = exc.error
                culprits = {part[i].line for i in exc.items if 0 <= i < len(part)}
            except Conflict as exc:
                failure, culprits = exc, set()
            if isinstance(failure, Conflict):
                attempts += 1
                if attempts > RETRIES * max(1, len(rows)):
                    raise ServiceUnavailable(
                        "the record is busy with the same resources; send the file again",
                        code="GW-5004",
                    )
                queue.append(part)
                continue
            bad = [r for r in part if r.line in culprits]
            if not bad and len(part) == 1:
                bad = part
            if bad:
                outcomes.update(self._quarantine_rows(bad, f, issues_of(failure)))
            rest = [r for r in part if r.line not in {b.line for b in bad}]
            if len(rest) > 1 and not bad:
                half = len(rest) // 2
                queue.extend([rest[half:], rest[:half]])
            elif rest:
                queue.append(rest)
        return outcomes, provenances

    def _write(
        self, unit: WriteUnit, rows: list[_Row], f: _File
    ) -> tuple[dict[int, RowOutcome], str | None]:
        """One transaction: the rows not seen before, planned, written, recorded."""
        keys = [r.key for r in rows]
        ledger.lock(unit.tx, keys)
        hits = ledger.find(unit.conn, keys) if f.replay is None else {}
        out = {r.line: self._duplicate(r, hits[r.key]) for r in rows if r.key in hits}
        fresh = [r for r in rows if r.key not in hits]
        results = {i: cast(ParseResult, r.result) for i, r in enumerate(rows) if r in fresh}
        index = TxPatientIndex(unit.tx, self.services)
        planned = plan(results, f.sender.ctx, index, group_loader(unit.tx))
        for i, refusal in planned.refused.items():
            issue = error(
                refusal.diagnostics,
                code="conflict" if refusal.reason == "conflict" else "not-found",
                expression="Patient",
                gateway_code=GW_IDENTITY,
                hl7_error=refusal.hl7_error,
            )
            r = rows[i]
            out.update(
                self._quarantine_in(
                    unit,
                    [r],
                    f,
                    (*cast(ParseResult, r.result).issues, issue),
                    reason=refusal.reason,
                    details=refusal.details,
                    patient_id=refusal.patient_id,
                )
            )
        if not planned.items:
            return out, None
        applied = Committer(unit, f.sender, planned).run()
        targets: list[str] = []
        authors: list[str] = []
        assumptions = list(f.assumptions)
        organization = None
        for i, item in planned.items.items():
            r = rows[i]
            targets.extend(w.reference for w in applied.written.get(i, []))
            if item.result.author and item.result.author in applied.refs:
                authors.append(applied.refs[item.result.author])
            assumptions.extend(f"line {r.line}: {a}" for a in item.result.assumptions)
            organization = organization or organization_of(item.result, applied, f.sender.structure)
        lines = [rows[i].line for i in planned.items]
        described = f"CSV export {f.kind}" + (f" ({f.name})" if f.name else "")
        prov = provenance(
            unit,
            f.sender,
            ProvenanceFacts(
                targets=targets,
                recorded=f.received,
                structure=f.sender.structure,
                source_display=f"{f.sender.client_id} (CSV {f.kind})",
                payload_sha256=f.sha256,
                message_system=f.sender.source.system("message"),
                message_id=f"{f.name or 'csv'}#{min(lines)}-{max(lines)}",
                authors=authors,
                organization=organization,
                assumptions=assumptions,
                update=any(item.updates for item in planned.items.values()),
                description=f"{described}, lines {min(lines)}-{max(lines)}",
            ),
        )
        reviews: list[q.QuarantineEntry] = []
        records: list[ledger.LedgerRecord] = []
        for i, item in planned.items.items():
            r = rows[i]
            review = review_entry(
                f.sender,
                item,
                applied,
                fmt="csv",
                received=f.received,
                payload=r.payload,
                message_id=f.name,
                line=r.line,
            )
            if review is not None:
                reviews.append(review)
            status = cast(Status, applied.item_status(i))
            issues = list(cast(ParseResult, r.result).issues)
            if review is not None:
                issues.append(warning(str(review.issues[0]["diagnostics"])))
            outcome = RowOutcome(
                r.line,
                status,
                tuple(issues),
                reviews=(review.id,) if review else (),
                written=tuple(applied.written.get(i, [])),
            )
            out[r.line] = outcome
            record = self._record(f, r.key, status, outcome.to_json(), provenance_id=prov)
            if f.replay is not None:
                ledger.supersede(unit.conn, record)
                q.set_status(unit.conn, f.replay.id, "replayed", f.received, attempted=True)
            else:
                records.append(record)
        q.add(unit.conn, reviews)
        ledger.add(unit.conn, records)
        return out, prov
