"""One HL7 v2 message, end to end: parse → identity → write → Provenance → ACK.

:meth:`MessageIntake.ingest` is what ``POST /ingest/hl7v2``, the MLLP listener and
``dmp-gateway ingest`` call. In one database transaction, under a lock on the
message's idempotency key:

1. a key already in the ledger: nothing is written; the first ACK is returned. The key
   is the sender's control id (MSH-10); if that id was used before by a *different*
   message (another content, MSH-7 aside), this one is not a resend: it is refused (AR,
   ERR-3 205) and quarantined under a key of its own content, so nothing is dropped
   behind a positive ACK and the operator can replay it;
2. a message the parser refused (AE/AR): quarantined, its ACK recorded;
3. identity (:mod:`gateway.intake.plan`): a conflict or an unknown patient is
   quarantined (AE, ERR-3 205 or 204); then the facts (:mod:`gateway.intake.facts`): an
   Observation, administration, report, dispensation or order whose business
   identifier is stored with another content is a correction (an update) when its
   status supersedes the stored one, else a conflict, quarantined (AE, ERR-3 205,
   ``GW-4115``, ERR-2 naming the OBX, RXA, OBR, RXD or RXE);
4. the writes (:mod:`gateway.intake.commit`) as the sender, then the Provenance and the
   review flags, then the ledger row with the AA ACK.

A write the rules or the profiles refuse rolls the transaction back; the message is
then quarantined in a second transaction with the refusal's issues (AE or AR,
:mod:`gateway.intake.failures`). A concurrent writer of the same resource (409) is
retried. The ACK is built from the parser's header; MSA-2 echoes MSH-10.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

from gateway.errors import Conflict, GatewayError, ServiceUnavailable
from gateway.ingest.hl7v2 import parse_hl7v2
from gateway.ingest.hl7v2.er7 import content_digest
from gateway.ingest.issues import (
    Hl7Location,
    IngestIssue,
    error,
    warning,
)
from gateway.ingest.result import AckCode, ParseResult
from gateway.intake import ledger
from gateway.intake import quarantine as q
from gateway.intake.acks import ack_for
from gateway.intake.commit import Committer, StageFailure
from gateway.intake.facts import check_facts
from gateway.intake.failures import ack_code_of, issues_of
from gateway.intake.hidden import may_read
from gateway.intake.outcome import MessageOutcome, Status
from gateway.intake.patient_index import TxPatientIndex, group_loader
from gateway.intake.plan import plan
from gateway.intake.provenance import ProvenanceFacts
from gateway.intake.records import (
    GW_IDENTITY,
    entry,
    organization_of,
    provenance,
    redact_identity,
    review_entry,
    sha256,
)
from gateway.intake.sender import Sender
from gateway.intake.unit import WriteUnit, write_unit
from gateway.normalise import Terminology
from gateway.record.services import RecordServices

RETRIES = 3
GW_REUSED_ID = "GW-4114"
HL7_DUPLICATE_KEY = "205"  # HL7 table 0357: duplicate key identifier


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed message, ready to be stored."""

    payload: bytes
    sender: Sender
    result: ParseResult
    key: str
    received: int
    content: str
    """:func:`gateway.ingest.hl7v2.er7.content_digest` of the payload."""


class MessageIntake:
    """The HL7 v2 flow; :mod:`gateway.intake.refusals` answers what never gets this far."""

    def __init__(self, services: RecordServices, terminology: Terminology) -> None:
        self.services = services
        self.terminology = terminology

    def key(self, sender: Sender, result: ParseResult, digest: str) -> str:
        """The ledger key: the sender's control id, or the payload's hash without one.

        A payload the parser rejects whole (AR: unreadable, GW-4101, with its MSH-10
        still located for the ACK; several messages, GW-4116; an unsupported type,
        version or processing id) is keyed by its hash although that MSH-10 is known:
        nothing of it was processed, and the sender is meant to resend it corrected (its
        messages one by one, as P, as 2.5), with that control id, which must then be
        processed, not refused as another message reusing it. Resending it unchanged
        still gets the first ACK."""
        header = result.header
        by_content = result.ack_code == "AR"
        if header is not None and header.idempotency_key is not None and not by_content:
            parts: tuple[str, ...] = header.idempotency_key
        else:
            parts = ("sha256", digest)
        return ledger.ledger_key(sender, "hl7v2", parts)

    def ingest(
        self, payload: bytes, sender: Sender, *, replay: q.QuarantineEntry | None = None
    ) -> MessageOutcome:
        """Ingest one message (MLLP framing removed). ``replay``: retry that quarantine
        entry (the ledger's first outcome is then superseded if it is stored now)."""
        parsed = self.parse(payload, sender)
        if replay is not None and replay.idempotency_key:
            # The key it was kept under: a message that reused a control id has its own.
            parsed = replace(parsed, key=replay.idempotency_key)
        return self.store(parsed, replay=replay)

    def parse(self, payload: bytes, sender: Sender) -> Parsed:
        """The pure half of :meth:`ingest` (no database): parse, key, time of receipt."""
        received = self.services.clock()
        result = parse_hl7v2(payload, sender.source, self.terminology)
        key = self.key(sender, result, sha256(payload))
        return Parsed(payload, sender, result, key, received, content_digest(payload))

    def store(self, m: Parsed, *, replay: q.QuarantineEntry | None = None) -> MessageOutcome:
        """The database half of :meth:`ingest`: its own transaction(s), retried on 409."""
        payload, sender, result, key, received = m.payload, m.sender, m.result, m.key, m.received
        failure: GatewayError | None = None
        for _ in range(RETRIES):
            try:
                with write_unit(self.services, merge_writes=True) as unit:
                    return self._once(unit, m, replay)
            except StageFailure as exc:
                if isinstance(exc.error, Conflict):
                    continue
                failure = exc.error
                break
            except Conflict:
                continue
        if failure is None:
            raise ServiceUnavailable(
                "the record is busy with the same resources; resend the message",
                code="GW-5009",
            )
        issues = issues_of(failure)
        with write_unit(self.services) as unit:
            key, first, _reused = self._claim(unit, m, replay)
            if first is not None:
                return first
            return self._quarantine(
                unit,
                payload,
                sender,
                result,
                key,
                received,
                ack_code_of(failure),
                issues,
                replay,
                content=m.content,
            )

    def _claim(
        self, unit: WriteUnit, m: Parsed, replay: q.QuarantineEntry | None
    ) -> tuple[str, MessageOutcome | None, bool]:
        """Lock the message's key; return the key to record it under, its first outcome
        if it was ingested already, and whether its control id names another message."""
        key, charset = m.key, _charset(m.result)
        ledger.lock(unit.tx, [key])
        if replay is not None:
            return key, None, False
        hit = ledger.find(unit.conn, [key]).get(key)
        if hit is None:
            return key, None, False
        if hit.content_sha256 is None or hit.content_sha256 == m.content:
            return key, self._first(hit, charset), False  # a resend (or a row before 0008)
        own = ledger.ledger_key(m.sender, "hl7v2", ("content", m.content))
        ledger.lock(unit.tx, [own])
        again = ledger.find(unit.conn, [own]).get(own)
        return own, self._first(again, charset) if again is not None else None, True

    @staticmethod
    def _first(hit: ledger.LedgerRecord, charset: str) -> MessageOutcome:
        key = hit.key
        return MessageOutcome(
            status="duplicate",
            kind=hit.kind,
            key=key,
            ack=hit.response.decode("utf-8"),
            ack_code=cast(AckCode, hit.ack_code or "AA"),
            quarantine_id=hit.quarantine_id,
            provenance=hit.provenance_id,
            first=False,
            first_status=hit.status,
            charset=charset,
        )

    def in_unit(self, unit: WriteUnit, m: Parsed) -> MessageOutcome:
        """Process ``m`` inside ``unit`` (a group commit); any exception means the caller
        must roll this message back and :meth:`store` it alone."""
        return self._once(unit, m, None)

    def _once(self, unit: WriteUnit, m: Parsed, replay: q.QuarantineEntry | None) -> MessageOutcome:
        payload, sender, result, received, content = (
            m.payload,
            m.sender,
            m.result,
            m.received,
            m.content,
        )
        key, first, reused = self._claim(unit, m, replay)
        if first is not None:
            return first
        if reused:
            header = result.header
            control_id = header.message_control_id if header is not None else ""
            issue = error(
                f"the control id {control_id!r} (MSH-10) was used by another message from "
                "this sender: a resend must repeat its message unchanged, and a new message "
                "needs a new control id; this one is kept in quarantine, unprocessed",
                Hl7Location("MSH", 1, 10),
                code="duplicate",
                expression="MSH-10",
                gateway_code=GW_REUSED_ID,
                hl7_error=HL7_DUPLICATE_KEY,
            )
            return self._quarantine(
                unit,
                payload,
                sender,
                result,
                key,
                received,
                "AR",
                (issue,),
                replay,
                content=content,
            )
        if not result.ok:
            return self._quarantine(
                unit,
                payload,
                sender,
                result,
                key,
                received,
                result.ack_code,
                result.issues,
                replay,
                content=content,
            )
        index = TxPatientIndex(unit.tx, self.services)
        index.prefetch(result.patient_keys)
        planned = plan({0: result}, sender.ctx, index, group_loader(unit.tx))
        refusal = planned.refused.get(0)
        if refusal is not None:
            said, details = redact_identity(unit, sender, refusal.diagnostics, refusal.details)
            issue = error(
                said,
                code="conflict" if refusal.reason == "conflict" else "not-found",
                expression="Patient",
                gateway_code=GW_IDENTITY,
                hl7_error=refusal.hl7_error,
            )
            return self._quarantine(
                unit,
                payload,
                sender,
                result,
                key,
                received,
                "AE",
                (*result.issues, issue),
                replay,
                reason=refusal.reason,
                details=details,
                patient_id=refusal.patient_id,
                content=content,
            )
        facts = check_facts(unit, {0: planned.items[0].result}, may_read(unit, sender, planned))
        clash = facts.conflicts.get(0)
        if clash is not None:
            return self._quarantine(
                unit,
                payload,
                sender,
                result,
                key,
                received,
                "AE",
                (*result.issues, clash.issue()),
                replay,
                reason="conflict",
                details=clash.details,
                content=content,
            )
        applied = Committer(unit, sender, planned, facts).run()
        item = planned.items[0]
        written = applied.written.get(0, [])
        header = result.header
        assert header is not None  # an accepted HL7 result always has its MSH
        author = applied.refs.get(result.author) if result.author else None
        prov = provenance(
            unit,
            sender,
            ProvenanceFacts(
                targets=[w.reference for w in written],
                recorded=received,
                structure=sender.structure,
                source_display=(
                    f"{sender.client_id} ({header.sending_application}/{header.sending_facility})"
                ),
                payload_sha256=sha256(payload),
                message_system=sender.source.system("message"),
                message_id=header.message_control_id,
                occurred=header.timestamp,
                authors=[author] if author else [],
                organization=organization_of(item.result, applied, sender.structure),
                assumptions=result.assumptions,
                update=item.merge
                or bool(item.updates)
                or any(w.status == "updated" for w in written),
                description=f"HL7 v{header.version} {header.event} from "
                f"{header.sending_application}/{header.sending_facility}",
            ),
        )
        review = review_entry(
            sender,
            item,
            applied,
            unit,
            fmt="hl7v2",
            received=received,
            payload=payload,
            message_id=header.message_control_id,
        )
        issues = list(result.issues)
        reviews: tuple[str, ...] = ()
        if review is not None:
            q.add(unit.conn, [review])
            reviews = (review.id,)
            issues.append(warning(f"{review.issues[0]['diagnostics']} (quarantine {review.id})"))
        status: Status = cast(Status, applied.item_status(0))
        ack = ack_for(result, "AA", issues, received)
        record = ledger.LedgerRecord(
            key=key,
            source=sender.client_id,
            structure=sender.structure,
            format="hl7v2",
            kind=result.kind,
            message_id=header.message_control_id,
            payload_sha256=sha256(payload),
            received=received,
            status=status,
            response=ack.encode("utf-8"),
            ack_code="AA",
            provenance_id=prov,
            content_sha256=content,
        )
        if replay is not None:
            ledger.supersede(unit.conn, record)
            q.set_status(unit.conn, replay.id, "replayed", received, attempted=True)
        else:
            ledger.add(unit.conn, [record])
        return MessageOutcome(
            status=status,
            kind=result.kind,
            key=key,
            ack=ack,
            ack_code="AA",
            issues=tuple(issues),
            reviews=reviews,
            written=tuple(written),
            provenance=prov,
            charset=_charset(result),
        )

    def _quarantine(
        self,
        unit: WriteUnit,
        payload: bytes,
        sender: Sender,
        result: ParseResult,
        key: str,
        received: int,
        code: AckCode,
        issues: tuple[IngestIssue, ...],
        replay: q.QuarantineEntry | None,
        *,
        content: str,
        reason: str = "rejected",
        details: dict[str, object] | None = None,
        patient_id: str | None = None,
    ) -> MessageOutcome:
        message_id = result.header.message_control_id if result.header else None
        kind = result.kind or "unreadable"
        if replay is not None:
            quarantine_id = replay.id
            q.reopen(unit.conn, replay.id, received, issues)
        else:
            stored = entry(
                sender,
                fmt="hl7v2",
                kind=kind,
                received=received,
                payload=payload,
                issues=issues,
                reason=reason,
                key=key,
                message_id=message_id,
                details=details,
                patient_id=patient_id,
            )
            q.add(unit.conn, [stored])
            quarantine_id = stored.id
        ack = ack_for(result, code, issues, received)
        if replay is None:
            ledger.add(
                unit.conn,
                [
                    ledger.LedgerRecord(
                        key=key,
                        source=sender.client_id,
                        structure=sender.structure,
                        format="hl7v2",
                        kind=kind,
                        message_id=message_id,
                        payload_sha256=sha256(payload),
                        received=received,
                        status="quarantined",
                        response=ack.encode("utf-8"),
                        ack_code=code,
                        quarantine_id=quarantine_id,
                        content_sha256=content,
                    )
                ],
            )
        return MessageOutcome(
            status="quarantined",
            kind=kind,
            key=key,
            ack=ack,
            ack_code=code,
            issues=issues,
            quarantine_id=quarantine_id,
            charset=_charset(result),
        )


def _charset(result: ParseResult) -> str:
    return result.header.charset if result.header else "utf-8"
