"""Ingestion, I/O side: payload → parse → identity → write → Provenance → outcome.

The pure parsers (:mod:`gateway.ingest`) turn a payload into transaction entries; this
package stores them, as the sender, through the caller-bound repository, so the DMP
access rules and the profiles apply to every write. HTTP (``/ingest``), MLLP
(:mod:`gateway.mllp`) and the CLI (``dmp-gateway ingest``) all call :class:`Intake`.

Stages (one database transaction per message or CSV chunk):

========================  ==========================================================
:mod:`.sender`            who sends: context + FINESS-rooted identifier systems
:mod:`.ledger`            idempotency: the first outcome of every message, by key
:mod:`.identity`          INS first, else local id; conflicts; probable matches
:mod:`.plan`              identity decisions, Patient updates, A40 links, roster
:mod:`.commit`            products, roster, then the transaction Bundle(s)
:mod:`.gateway_writer`    what the gateway writes itself: Provenance, Medication
:mod:`.provenance`        the Provenance of a message
:mod:`.quarantine`        rejected payloads, conflicts and review flags, durably
:mod:`.messages`          the HL7 v2 flow (ACK)
:mod:`.files`             the CSV flow (chunks, per-record outcomes)
:mod:`.bundles`           FHIR Bundles given to the CLI
:mod:`.desk`              quarantine: list, show, replay, discard (+ :mod:`.visibility`)
========================  ==========================================================
"""

from __future__ import annotations

from gateway.intake.desk import QuarantineDesk
from gateway.intake.outcome import FileOutcome, MessageOutcome, RowOutcome
from gateway.intake.pipeline import Intake
from gateway.intake.quarantine import QuarantineEntry, QuarantineQuery
from gateway.intake.registered import (
    ClientMisconfigured,
    ProfessionalIdentity,
    UnknownClient,
    registered_context,
)
from gateway.intake.sender import Sender, sender_for

__all__ = [
    "ClientMisconfigured",
    "FileOutcome",
    "Intake",
    "MessageOutcome",
    "ProfessionalIdentity",
    "QuarantineDesk",
    "QuarantineEntry",
    "QuarantineQuery",
    "RowOutcome",
    "Sender",
    "UnknownClient",
    "registered_context",
    "sender_for",
]
