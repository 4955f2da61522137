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

from collections.abc import Mapping
from typing import Any, cast

from gateway.errors import Conflict, GatewayError, ServiceUnavailable
from gateway.ingest import CsvMapping, parse_csv
from gateway.ingest.csv.reader import decode, first_line
from gateway.ingest.issues import error, warning
from gateway.ingest.result import ParseResult
from gateway.intake import ledger
from gateway.intake import quarantine as q
from gateway.intake.commit import Committer, StageFailure
from gateway.intake.facts import check_facts
from gateway.intake.failures import issues_of
from gateway.intake.file_records import (
    CsvFile,
    CsvRecord,
    duplicate,
    quarantine_in,
    quarantine_rows,
    record,
    whole_file,
)
from gateway.intake.hidden import may_read
from gateway.intake.outcome import FileOutcome, RowOutcome, Status
from gateway.intake.patient_index import TxPatientIndex, group_loader
from gateway.intake.plan import plan
from gateway.intake.provenance import ProvenanceFacts
from gateway.intake.records import (
    GW_IDENTITY,
    organization_of,
    provenance,
    redact_identity,
    review_entry,
)
from gateway.intake.records import sha256 as digest_of
from gateway.intake.sender import Sender
from gateway.intake.unit import WriteUnit, write_unit
from gateway.normalise import Terminology
from gateway.record.services import RecordServices

RETRIES = 3


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
        # A replayed record (its file's header, then it) keeps its line in the file sent.
        first = replay.line if replay is not None else None
        parsed = parse_csv(
            payload, mapping, sender.source, self.terminology, first_record_line=first
        )
        header = first_line(decode(payload).text)
        facts = CsvFile(
            sender, kind, name, received, digest_of(payload), parsed.assumptions, replay
        )
        rows: list[CsvRecord] = []

        def row(line: int, raw: str, **more: Any) -> CsvRecord:
            text = (header if header.endswith(("\n", "\r")) else header + "\r\n") + raw
            key = ledger.ledger_key(sender, "csv", (kind, header.strip(), raw.strip()))
            return CsvRecord(line, raw, key, text.encode("utf-8"), **more)

        for rejected in parsed.rejected:
            rows.append(row(rejected.line, rejected.raw, issues=rejected.issues))
        for accepted in parsed.accepted:
            rows.append(row(accepted.line, accepted.raw, result=accepted.result))
        rows.sort(key=lambda r: r.line)
        file_errors = tuple(i for i in parsed.issues if i.is_error)
        if file_errors:
            # A header that lacks what the kind needs (a file sent as the wrong kind):
            # no record can be mapped, so the file is kept once, not once per record.
            outcome = whole_file(self.services, payload, facts, file_errors)
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
            outcomes.update(quarantine_rows(self.services, refused, facts, None))
        # A patient's records in the same chunks: the rules load each patient's facts
        # once per transaction, so grouping them saves most of those loads.
        good = sorted((r for r in rows if r.result is not None), key=_patient_of)
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

    # -- accepted rows, by chunk ---------------------------------------------------------------

    def _chunk(self, rows: list[CsvRecord], f: CsvFile) -> tuple[dict[int, RowOutcome], list[str]]:
        outcomes: dict[int, RowOutcome] = {}
        provenances: list[str] = []
        queue: list[list[CsvRecord]] = [rows]
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
                        code="GW-5009",
                    )
                queue.append(part)
                continue
            bad = [r for r in part if r.line in culprits]
            if not bad and len(part) == 1:
                bad = part
            if bad:
                outcomes.update(quarantine_rows(self.services, bad, f, issues_of(failure)))
            rest = [r for r in part if r.line not in {b.line for b in bad}]
            if len(rest) > 1 and not bad:
                half = len(rest) // 2
                queue.extend([rest[half:], rest[:half]])
            elif rest:
                queue.append(rest)
        return outcomes, provenances

    def _write(
        self, unit: WriteUnit, rows: list[CsvRecord], f: CsvFile
    ) -> tuple[dict[int, RowOutcome], str | None]:
        """One transaction: the rows not seen before, planned, written, recorded."""
        keys = [r.key for r in rows]
        ledger.lock(unit.tx, keys)
        hits = ledger.find(unit.conn, keys) if f.replay is None else {}
        out = {r.line: duplicate(r, hits[r.key]) for r in rows if r.key in hits}
        results = {i: cast(ParseResult, r.result) for i, r in enumerate(rows) if r.key not in hits}
        index = TxPatientIndex(unit.tx, self.services)
        index.prefetch(k for r in results.values() for k in r.patient_keys)
        planned = plan(results, f.sender.ctx, index, group_loader(unit.tx))
        for i, refusal in planned.refused.items():
            said, details = redact_identity(unit, f.sender, refusal.diagnostics, refusal.details)
            issue = error(
                said,
                code="conflict" if refusal.reason == "conflict" else "not-found",
                expression="Patient",
                gateway_code=GW_IDENTITY,
                hl7_error=refusal.hl7_error,
            )
            r = rows[i]
            out.update(
                quarantine_in(
                    unit,
                    [r],
                    f,
                    (*cast(ParseResult, r.result).issues, issue),
                    reason=refusal.reason,
                    details=details,
                    patient_id=refusal.patient_id,
                )
            )
        facts = check_facts(
            unit,
            {i: item.result for i, item in planned.items.items()},
            may_read(unit, f.sender, planned),
        )
        for i, clash in facts.conflicts.items():
            r = rows[i]
            del planned.items[i]
            out.update(
                quarantine_in(
                    unit,
                    [r],
                    f,
                    (*cast(ParseResult, r.result).issues, clash.issue()),
                    reason="conflict",
                    details=clash.details,
                )
            )
        if not planned.items:
            return out, None
        applied = Committer(unit, f.sender, planned, facts).run()
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
                update=any(item.updates for item in planned.items.values())
                or any(w.status == "updated" for ws in applied.written.values() for w in ws),
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
                unit,
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
            first = record(f, r.key, status, outcome.to_json(), provenance_id=prov)
            if f.replay is not None:
                ledger.supersede(unit.conn, first)
                q.set_status(unit.conn, f.replay.id, "replayed", f.received, attempted=True)
            else:
                records.append(first)
        q.add(unit.conn, reviews)
        ledger.add(unit.conn, records)
        return out, prov


def _patient_of(r: CsvRecord) -> str:
    patient = r.result.patient if r.result is not None else None
    return patient.keys[-1].token if patient is not None and patient.keys else ""
