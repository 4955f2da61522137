"""Shared steps of the flows: quarantine entries, review flags and the Provenance write."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import orjson

from gateway.ingest.issues import IngestIssue, warning
from gateway.ingest.result import ParseResult
from gateway.intake import quarantine as q
from gateway.intake.commit import Applied
from gateway.intake.gateway_writer import gateway_writer, write_provenance
from gateway.intake.identity import StoredPatient, traits_view
from gateway.intake.plan import ItemPlan
from gateway.intake.provenance import ProvenanceFacts, build_provenance
from gateway.intake.sender import Sender
from gateway.intake.unit import WriteUnit
from gateway.policy import Action
from gateway.record.reader import RecordReader

GW_REVIEW = "GW-4111"
GW_IDENTITY = "GW-4112"


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def issues_json(issues: Sequence[IngestIssue]) -> list[dict[str, Any]]:
    return [i.to_fhir() for i in issues]


def entry(
    sender: Sender,
    *,
    fmt: str,
    kind: str,
    received: int,
    payload: bytes,
    issues: Sequence[IngestIssue],
    reason: str = "rejected",
    key: str | None = None,
    message_id: str | None = None,
    line: int | None = None,
    details: dict[str, Any] | None = None,
    patient_id: str | None = None,
) -> q.QuarantineEntry:
    return q.QuarantineEntry(
        id=q.new_id(),
        source=sender.client_id,
        structure=sender.structure,
        format=fmt,
        kind=kind or fmt,
        reason=reason,
        status="open",
        received=received,
        updated=received,
        payload=payload,
        payload_sha256=sha256(payload),
        issues=issues_json(issues),
        details=details,
        message_id=message_id or None,
        idempotency_key=key,
        line=line,
        patient_id=patient_id,
        subject=sender.subject,
    )


def readable(
    unit: WriteUnit, sender: Sender, patients: Sequence[StoredPatient]
) -> list[StoredPatient]:
    """The patients among ``patients`` the sender may read (``GET Patient/<id>``).

    Probable matches are looked up among every stored patient (identity is the
    gateway's job), so they include patients hidden from the sender; what the sender is
    told about them must not show that they exist (a hidden resource is *not found*).
    A professional's token names the patient of each call: each candidate is judged as
    the professional asking about that candidate (:meth:`Sender.for_patient`; a claim
    the token made itself is kept, and another patient is then hidden).
    """
    if not patients:
        return []
    unit.flush()
    return [p for p in patients if _sees(unit, sender, p.reference)]


def _sees(unit: WriteUnit, sender: Sender, reference: str) -> bool:
    """Whether the sender may read ``Patient/<id>`` (flushed unit), as asking about it."""
    current = unit.tx.current("Patient", reference.split("/", 1)[1])
    if current is None or current.deleted:
        return False
    reader = RecordReader(sender.for_patient(reference).ctx, unit.services, unit.tx)
    return reader.visible(current, Action.READ)


_PATIENT_REF = re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}")
HIDDEN_PATIENT = "a stored patient"


def redact_identity(
    unit: WriteUnit, sender: Sender, diagnostics: str, details: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """An identity conflict as its sender may hear it: the stored patients it may not
    read are not named, and their traits and identifiers are not shown (``stored`` and
    ``patients`` are dropped for them); what the payload itself said stays."""
    refs = set(_PATIENT_REF.findall(diagnostics + orjson.dumps(details or {}).decode()))
    if not refs:
        return diagnostics, details
    unit.flush()
    hidden = {ref for ref in refs if not _sees(unit, sender, ref)}
    if not hidden:
        return diagnostics, details
    for ref in hidden:
        diagnostics = re.sub(re.escape(ref) + r"\b", HIDDEN_PATIENT, diagnostics)
    out = dict(details or {})
    patients = out.get("patients")
    if isinstance(patients, dict):
        out["patients"] = {k: v for k, v in patients.items() if k not in hidden}
    elif isinstance(patients, list):
        out["patients"] = [HIDDEN_PATIENT if p in hidden else p for p in patients]
    if out.get("patient") in hidden:
        out["patient"] = HIDDEN_PATIENT
        out.pop("stored", None)
    elif "stored" in out and "patient" not in out:  # another INS: the stored one's
        out.pop("stored", None)
    return diagnostics, out


def review_entry(
    sender: Sender,
    item: ItemPlan,
    applied: Applied,
    unit: WriteUnit,
    *,
    fmt: str,
    received: int,
    payload: bytes,
    message_id: str | None = None,
    line: int | None = None,
) -> q.QuarantineEntry | None:
    """The review flag of a new Patient that looks like stored ones (never merged).

    The flag names, and ``details.candidates`` describes, only the candidates the sender
    may read; when it may read none of them, the flag says that the record awaits an
    identity review, without ids or traits.
    """
    if not item.new_patient or not item.probable or item.patient is None:
        return None
    created = applied.refs.get(item.patient, item.patient)
    shown = readable(unit, sender, item.probable)
    result = item.result
    if shown:
        candidates = ", ".join(p.reference for p in shown)
        diagnostics = (
            f"{created} was created; it may be the same person as {candidates} "
            "(same birth date, similar name): check and merge by hand if so"
        )
    else:
        diagnostics = (
            f"{created} was created and flagged for identity review: check that it does "
            "not duplicate a record of the same person"
        )
    issue = warning(diagnostics, code="duplicate", gateway_code=GW_REVIEW)
    details = {
        "patient": created,
        "incoming": traits_view(result.patient.traits) if result.patient else {},
        "candidates": [{"reference": p.reference, **traits_view(p.traits)} for p in shown],
    }
    patient_id = created.split("/", 1)[1] if created.startswith("Patient/") else None
    return entry(
        sender,
        fmt=fmt,
        kind=result.kind,
        received=received,
        payload=payload,
        issues=[issue],
        reason="review",
        message_id=message_id,
        line=line,
        details=details,
        patient_id=patient_id,
    )


def organization_of(result: ParseResult, applied: Applied, structure: str) -> str | None:
    for e in result.entries:
        if e.resource_type != "Organization":
            continue
        for ident in e.resource.get("identifier") or []:
            if ident.get("value") == structure:
                return applied.refs.get(e.full_url)
    return None


def provenance(unit: WriteUnit, sender: Sender, facts: ProvenanceFacts) -> str | None:
    """Write the Provenance (when the payload touched anything); its id."""
    if not facts.targets:
        return None
    # The Provenance reads nothing: the other writers' queues stay queued, and a unit
    # that merges its writes stores them with it in one go.
    writer = gateway_writer(unit, sender.structure, flush=False)
    return write_provenance(writer, build_provenance(facts))
