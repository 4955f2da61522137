"""The quarantine desk: list, show, replay and discard entries, as the caller may.

What a caller may do is :mod:`gateway.intake.visibility`; every read of a payload,
replay and discard goes to :func:`gateway.intake.hooks.record_quarantine_action`.
Entries a caller may not see are reported exactly as missing ones (404); a replay by a
caller who sees the entry but may not replay it (an admin) is forbidden (403, GW-2013).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gateway.access.context import AccessContext
from gateway.errors import Conflict, Forbidden, Gone, NotFound
from gateway.fhir.instant import format_instant
from gateway.intake import quarantine as q
from gateway.intake.hooks import quarantine_record, record_quarantine_action
from gateway.intake.outcome import FileOutcome, MessageOutcome
from gateway.intake.pipeline import Intake
from gateway.intake.sender import Sender, sender_for
from gateway.intake.unit import write_unit
from gateway.intake.visibility import (
    View,
    listing_scope,
    may_discard,
    may_list,
    may_replay,
    view_of,
)
from gateway.normalise import SourceConfig
from gateway.policy import Action
from gateway.record.reader import RecordReader

_METADATA_ISSUE_KEYS = ("severity", "code", "details", "expression", "location")


def _payload_view(payload: bytes | None) -> dict[str, Any]:
    if payload is None:
        return {}
    try:
        return {"payload": payload.decode("utf-8")}
    except UnicodeDecodeError:
        import base64

        return {"payloadBase64": base64.b64encode(payload).decode("ascii")}


def render(entry: q.QuarantineEntry, view: View, *, patient_shown: bool = False) -> dict[str, Any]:
    """The JSON of an entry as ``view`` allows; ``patient`` (the record the payload
    concerns, kept to seal it with that patient's key) only when ``patient_shown``."""
    out: dict[str, Any] = {
        "id": entry.id,
        "source": entry.source,
        "structure": entry.structure,
        "format": entry.format,
        "kind": entry.kind,
        "reason": entry.reason,
        "status": entry.status,
        "received": format_instant(entry.received),
        "updated": format_instant(entry.updated),
        "attempts": entry.attempts,
        "payloadSha256": entry.payload_sha256,
    }
    if entry.line is not None:
        out["line"] = entry.line
    if view is View.FULL:
        if entry.message_id:
            out["messageId"] = entry.message_id
        if entry.patient_id and patient_shown:
            out["patient"] = f"Patient/{entry.patient_id}"
        out["issues"] = entry.issues
        if entry.details is not None:
            out["details"] = entry.details
        out.update(_payload_view(entry.payload))
    else:
        out["issues"] = [
            {k: v for k, v in issue.items() if k in _METADATA_ISSUE_KEYS} for issue in entry.issues
        ]
    return out


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[dict[str, Any]]
    next_cursor: tuple[int, str] | None


class QuarantineDesk:
    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.services = intake.services

    def _get(self, ctx: AccessContext, entry_id: str) -> tuple[q.QuarantineEntry, View]:
        with self.services.store.reader() as tx:
            entry = q.get(tx.conn, entry_id)
        view = View.NONE
        if entry is not None:
            view = view_of(ctx, entry, dev_mode=self.intake.dev_mode)
        if entry is None or view is View.NONE:
            raise NotFound(f"No quarantine entry {entry_id}", code="GW-3004")
        return entry, view

    def search(self, ctx: AccessContext, query: q.QuarantineQuery) -> Page:
        if not may_list(ctx, dev_mode=self.intake.dev_mode):
            raise Forbidden("This caller may not read the quarantine", code="GW-2012")
        owner = listing_scope(ctx)
        if owner is not None:
            # A sender lists its own entries. A ``source`` filter still applies on top:
            # another client's id matches none of them, so the answer is empty, as any
            # well-formed filter that matches nothing (a 400 is for a malformed value;
            # the empty page tells nothing about the other client either). An admin
            # lists every sender's entries, and ``source`` picks one client's.
            query = replace(query, owner=owner)
        with self.services.store.reader() as tx:
            found = q.search(tx.conn, query)
        more = len(found) > query.limit
        found = found[: query.limit]
        views = [(e, view_of(ctx, e, dev_mode=self.intake.dev_mode)) for e in found]
        shown = self._patients_shown(ctx, [e for e, v in views if v is View.FULL])
        entries = [
            render(e, v, patient_shown=e.patient_id in shown)
            for e, v in views
            if v is not View.NONE
        ]
        for e, v in views:
            if v is View.FULL:
                record_quarantine_action(self.services, ctx, "read", e.id)
        cursor = (found[-1].received, found[-1].id) if more and found else None
        return Page(entries, cursor)

    def show(self, ctx: AccessContext, entry_id: str) -> dict[str, Any]:
        entry, view = self._get(ctx, entry_id)
        shown: set[str] = set()
        if view is View.FULL:
            record_quarantine_action(self.services, ctx, "read", entry.id)
            shown = self._patients_shown(ctx, [entry])
        return render(entry, view, patient_shown=entry.patient_id in shown)

    def _patients_shown(self, ctx: AccessContext, entries: list[q.QuarantineEntry]) -> set[str]:
        """The ids among the entries' patients that ``ctx`` may read (``GET Patient/<id>``).

        An entry refused by the rules or flagged for identity review may concern a
        patient its sender may not read (a resident of another EHPAD, a record without
        a care relationship); the entry's ``patient`` would tell it that record's
        internal id, so it is shown only to a caller who could read that patient.
        """
        shown: set[str] = set()
        judged: set[str] = set()
        with self.services.store.reader() as tx:
            for entry in entries:
                patient_id = entry.patient_id
                if not patient_id or patient_id in judged:
                    continue
                judged.add(patient_id)
                current = tx.current("Patient", patient_id)
                if current is None or current.deleted:
                    continue
                asking = self._sender(ctx, entry).for_patient(f"Patient/{patient_id}").ctx
                if RecordReader(asking, self.services, tx).visible(current, Action.READ):
                    shown.add(patient_id)
        return shown

    def _sender(self, ctx: AccessContext, entry: q.QuarantineEntry) -> Sender:
        if ctx.kind == "dev":
            finess = entry.structure[1:]
            return Sender(ctx, SourceConfig(entry.source, finess))
        return sender_for(ctx)

    def replay(self, ctx: AccessContext, entry_id: str) -> MessageOutcome | FileOutcome:
        entry, _view = self._get(ctx, entry_id)
        if not may_replay(ctx, entry, dev_mode=self.intake.dev_mode):
            # The caller sees the entry (an admin): its existence is no secret to it.
            raise Forbidden(
                "Administrators may not replay a quarantine entry: only its sender may",
                code="GW-2013",
            )
        if entry.status == "discarded" or entry.payload is None:
            raise Gone(f"Quarantine entry {entry_id} was discarded", code="GW-3010")
        if entry.reason == "review":
            raise Conflict(
                "A review flag was stored already; dismiss it with DELETE once checked",
                code="GW-3015",
            )
        if entry.status == "replayed":
            raise Conflict(f"Quarantine entry {entry_id} was stored already", code="GW-3015")
        sender = self._sender(ctx, entry)
        record_quarantine_action(self.services, ctx, "replay", entry.id)
        if entry.format == "hl7v2":
            return self.intake.messages.ingest(entry.payload, sender, replay=entry)
        if entry.format == "csv":
            kind = entry.kind.removeprefix("csv:")
            return self.intake.files.ingest(
                entry.payload, kind, sender, name=entry.message_id, replay=entry
            )
        return self.intake.bundles.ingest(
            entry.payload, sender, name=entry.message_id, replay=entry
        )

    def discard(self, ctx: AccessContext, entry_id: str) -> None:
        entry, _view = self._get(ctx, entry_id)
        if not may_discard(ctx, entry, dev_mode=self.intake.dev_mode):
            raise NotFound(f"No quarantine entry {entry_id}", code="GW-3004")
        if entry.status == "discarded":
            return
        with write_unit(self.services) as unit:
            q.set_status(
                unit.conn, entry.id, "discarded", self.services.clock(), erase_payload=True
            )
            unit.audit.append(quarantine_record(self.services, ctx, "discard", entry.id))
