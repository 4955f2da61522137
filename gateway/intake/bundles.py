"""FHIR payloads given to the intake pipeline (``dmp-gateway ingest --format fhir``).

A file holds a transaction or batch Bundle (a tdDUI resident file is a create-only
transaction: all or nothing) or a single resource, sent as a one-entry transaction.
It runs through the same route table as ``POST /fhir`` with the repository bound to
the sender; a transaction gets a Provenance like a message (the file's SHA-256, the
sender, the resources it wrote). A refused transaction or an unreadable file is
quarantined whole. A batch's successful entries stay stored (that is what a batch
means), and only its failed entries are quarantined, as a batch Bundle of their own
with their places in the file (``details.fileEntries``): replaying it sends them alone,
never the entries already stored a second time. A replay that still fails updates that
quarantine entry (what still fails, and its issues) instead of adding another. The
entries stored get their Provenance even when others failed, and the outcome of a
partly failed batch is given entry by entry (accepted, or quarantined with its issues).
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import ERROR_CODE_SYSTEM, GatewayError
from gateway.fhir.json import loads
from gateway.ingest.issues import GW_VALUE, IngestIssue, error
from gateway.intake import ledger
from gateway.intake import quarantine as q
from gateway.intake.failures import issues_of
from gateway.intake.outcome import FileOutcome, RowOutcome, Status
from gateway.intake.provenance import ProvenanceFacts
from gateway.intake.records import entry, provenance, sha256
from gateway.intake.sender import Sender
from gateway.intake.unit import WriteUnit, write_unit
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch


def _as_bundle(document: Any) -> dict[str, Any]:
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        return document
    rtype = document.get("resourceType") if isinstance(document, dict) else None
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": document, "request": {"method": "POST", "url": str(rtype)}}],
    }


class BundleIntake:
    def __init__(self, services: RecordServices) -> None:
        self.services = services

    def ingest(
        self,
        payload: bytes,
        sender: Sender,
        *,
        name: str | None = None,
        replay: q.QuarantineEntry | None = None,
    ) -> FileOutcome:
        received = self.services.clock()
        digest = sha256(payload)
        key = ledger.ledger_key(sender, "fhir", ("sha256", digest))
        if replay is not None and replay.idempotency_key:
            key = replay.idempotency_key  # the file's record, whatever part of it is replayed
        limits = self.services.settings.limits
        try:
            bundle = _as_bundle(
                loads(
                    payload,
                    max_depth=limits.max_json_depth,
                    max_items=limits.max_json_container_items,
                )
            )
        except GatewayError as exc:
            return self._quarantine(payload, sender, key, received, issues_of(exc), name, replay)
        kind = f"fhir:{bundle.get('type', 'unknown')}"
        try:
            with write_unit(self.services) as unit:
                ledger.lock(unit.tx, [key])
                hit = ledger.find(unit.conn, [key]).get(key) if replay is None else None
                if hit is not None:
                    first: Any = orjson.loads(hit.response)
                    row = RowOutcome(
                        1,
                        "duplicate",
                        quarantine_id=hit.quarantine_id,
                        first=False,
                        first_status=hit.status,
                        first_response=first if isinstance(first, dict) else None,
                    )
                    return FileOutcome(kind, (row,))
                repo = unit.repository(sender.ctx)
                response = dispatch(FhirRequest("POST", [], resource=bundle, base=""), repo)
                body: Any = orjson.loads(response.body or b"{}")
                refs, failed, failed_at = [], [], list[int]()
                entry_issues: dict[int, list[IngestIssue]] = {}
                for index, item in enumerate(body.get("entry") or []):
                    status = str((item.get("response") or {}).get("status", ""))
                    resource = item.get("resource") or {}
                    if status[:1] == "2" and resource.get("id"):
                        refs.append(f"{resource['resourceType']}/{resource['id']}")
                    elif status[:1] != "2":
                        # Numbered as in the quarantined Bundle, which holds only these.
                        at = len(failed_at)
                        failed_at.append(index)
                        outcome = (item.get("response") or {}).get("outcome") or {}
                        mine = entry_issues.setdefault(index, [])
                        for issue in outcome.get("issue") or []:
                            mine.append(_entry_issue(issue, at, status))
                        failed += mine
                prov = (
                    provenance(
                        unit,
                        sender,
                        ProvenanceFacts(
                            targets=refs,
                            recorded=received,
                            structure=sender.structure,
                            source_display=f"{sender.client_id} (FHIR {bundle.get('type')})",
                            payload_sha256=digest,
                            message_system=sender.source.system("message"),
                            message_id=name,
                            description=f"FHIR {bundle.get('type')} Bundle",
                        ),
                    )
                    if refs
                    else None
                )
                status_: Status = "accepted" if not failed else "quarantined"
                if failed:
                    rest = _failed_part(bundle, failed_at, replay, digest)
                    row = _quarantine_rest(
                        unit, sender, kind, received, rest, tuple(failed), key, name, replay
                    )
                else:
                    row = RowOutcome(1, status_)
                record = ledger.LedgerRecord(
                    key=key,
                    source=sender.client_id,
                    structure=sender.structure,
                    format="fhir",
                    kind=kind,
                    message_id=name,
                    payload_sha256=digest,
                    received=received,
                    status=status_,
                    response=orjson.dumps(row.to_json()),
                    quarantine_id=row.quarantine_id,
                    provenance_id=prov,
                )
                if replay is not None:
                    ledger.supersede(unit.conn, record)
                    if not failed:  # else _quarantine_rest updated the entry
                        q.set_status(unit.conn, replay.id, "replayed", received, attempted=True)
                else:
                    ledger.add(unit.conn, [record])
                entries = len(body.get("entry") or [])
                rows = _entry_rows(entries, entry_issues, row) if failed else (row,)
                return FileOutcome(kind, rows, provenance=(prov,) if prov else ())
        except GatewayError as exc:
            return self._quarantine(
                payload, sender, key, received, issues_of(exc), name, replay, kind=kind
            )

    def _quarantine(
        self,
        payload: bytes,
        sender: Sender,
        key: str,
        received: int,
        issues: tuple[IngestIssue, ...],
        name: str | None,
        replay: q.QuarantineEntry | None,
        *,
        kind: str = "fhir",
    ) -> FileOutcome:
        with write_unit(self.services) as unit:
            ledger.lock(unit.tx, [key])
            if replay is not None:
                q.reopen(unit.conn, replay.id, received, issues)
                return FileOutcome(kind, (RowOutcome(1, "quarantined", issues, replay.id),))
            hit = ledger.find(unit.conn, [key]).get(key)
            if hit is not None:
                return FileOutcome(
                    kind,
                    (
                        RowOutcome(
                            1,
                            "duplicate",
                            quarantine_id=hit.quarantine_id,
                            first=False,
                            first_status=hit.status,
                        ),
                    ),
                )
            row = _quarantined(unit, sender, kind, received, payload, issues, key, name)
            ledger.add(
                unit.conn,
                [
                    ledger.LedgerRecord(
                        key=key,
                        source=sender.client_id,
                        structure=sender.structure,
                        format="fhir",
                        kind=kind,
                        message_id=name,
                        payload_sha256=sha256(payload),
                        received=received,
                        status="quarantined",
                        response=orjson.dumps(row.to_json()),
                        quarantine_id=row.quarantine_id,
                    )
                ],
            )
            return FileOutcome(kind, (row,))


def _quarantined(
    unit: WriteUnit,
    sender: Sender,
    kind: str,
    received: int,
    payload: bytes,
    issues: tuple[IngestIssue, ...],
    key: str,
    name: str | None,
) -> RowOutcome:
    """Keep the Bundle in quarantine with its issues, in ``unit``'s transaction."""
    stored = entry(
        sender,
        fmt="fhir",
        kind=kind,
        received=received,
        payload=payload,
        issues=issues,
        key=key,
        message_id=name,
    )
    q.add(unit.conn, [stored])
    return RowOutcome(1, "quarantined", issues, stored.id)


class _FailedPart:
    """The failed entries of a batch, as the Bundle to keep, and where they were in the
    file first sent (indexes into its ``entry``)."""

    def __init__(self, payload: bytes, file_entries: list[int], file_sha256: str) -> None:
        self.payload = payload
        self.details: dict[str, Any] = {"fileEntries": file_entries, "fileSha256": file_sha256}


def _failed_part(
    bundle: dict[str, Any], failed_at: list[int], replay: q.QuarantineEntry | None, digest: str
) -> _FailedPart:
    entries = bundle.get("entry") or []
    payload = orjson.dumps(
        {"resourceType": "Bundle", "type": "batch", "entry": [entries[i] for i in failed_at]}
    )
    before = (replay.details or {}) if replay is not None else {}
    places = before.get("fileEntries")
    if isinstance(places, list) and len(places) == len(entries):
        return _FailedPart(
            payload, [places[i] for i in failed_at], before.get("fileSha256", digest)
        )
    return _FailedPart(payload, failed_at, digest)


def _entry_rows(
    entries: int, issues: dict[int, list[IngestIssue]], kept: RowOutcome
) -> tuple[RowOutcome, ...]:
    """A partly failed batch, entry by entry (``line``: the entry's place in the Bundle
    processed, from 1): the stored ones accepted, the failed ones quarantined together
    in ``kept``'s entry, each with its own issues. So the counts add up to the entries
    submitted, as a CSV file's add up to its records."""
    return tuple(
        RowOutcome(i + 1, "quarantined", tuple(issues[i]), kept.quarantine_id)
        if i in issues
        else RowOutcome(i + 1, "accepted")
        for i in range(entries)
    )


def _quarantine_rest(
    unit: WriteUnit,
    sender: Sender,
    kind: str,
    received: int,
    rest: _FailedPart,
    issues: tuple[IngestIssue, ...],
    key: str,
    name: str | None,
    replay: q.QuarantineEntry | None,
) -> RowOutcome:
    """Keep a batch's failed entries: a new quarantine entry, or on a replay the same
    one, now holding only what still fails."""
    if replay is None:
        stored = entry(
            sender,
            fmt="fhir",
            kind=kind,
            received=received,
            payload=rest.payload,
            issues=issues,
            key=key,
            message_id=name,
            details=rest.details,
        )
        q.add(unit.conn, [stored])
        return RowOutcome(1, "quarantined", issues, stored.id)
    q.reopen(unit.conn, replay.id, received, issues, payload=rest.payload, details=rest.details)
    return RowOutcome(1, "quarantined", issues, replay.id)


def _entry_issue(issue: dict[str, Any], at: int, status: str) -> IngestIssue:
    """An issue of a failed batch entry as the REST answer gave it (its diagnostics, its
    gateway code, its expression in the resource), placed at ``Bundle.entry[at]`` of the
    quarantined Bundle."""
    codings = (issue.get("details") or {}).get("coding") or []
    gateway_code = next(
        (str(c.get("code")) for c in codings if c.get("system") == ERROR_CODE_SYSTEM), GW_VALUE
    )
    # Its place in the file's Bundle is replaced by its place in the one kept; paths in
    # the resource (``Observation.status``) stay as they are.
    own = [
        e
        for e in issue.get("expression") or []
        if isinstance(e, str) and not e.startswith("Bundle.")
    ]
    return error(
        str(issue.get("diagnostics") or f"the entry failed with HTTP {status}"),
        code=str(issue.get("code", "processing")),
        expression=(f"Bundle.entry[{at}]", *own),
        gateway_code=gateway_code,
    )
