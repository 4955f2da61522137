"""The intake pipeline: one object shared by ``/ingest``, the MLLP listener and the CLI.

Built once (it loads the ConceptMaps and the CSV mappings), then called per payload
with the :class:`~gateway.intake.sender.Sender` it comes from::

    intake = Intake.load(services)
    outcome = intake.hl7v2(payload, sender)        # MessageOutcome: ACK, status, …
    table = intake.csv(payload, "vitals", sender)  # FileOutcome: per-record outcomes
    result = intake.fhir(payload, sender)          # FileOutcome of one Bundle

It is thread-safe. HL7 v2 messages that arrive at the same time from several threads
(MLLP connections, HTTP requests) share a transaction (:mod:`.group_commit`); each
returns once its message is committed. CSV chunks and Bundles run in their own.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.ingest import CsvMapping, Terminology, load_mappings
from gateway.intake.bundles import BundleIntake
from gateway.intake.files import FileIntake
from gateway.intake.group_commit import GroupCommit
from gateway.intake.messages import MessageIntake
from gateway.intake.outcome import FileOutcome, MessageOutcome
from gateway.intake.sender import Sender
from gateway.record.services import RecordServices


class Intake:
    def __init__(
        self,
        services: RecordServices,
        terminology: Terminology,
        mappings: Mapping[str, CsvMapping],
        *,
        chunk_rows: int = 200,
    ) -> None:
        self.services = services
        self.mappings = mappings
        self.messages = MessageIntake(services, terminology)
        self.message_groups = GroupCommit(self.messages)
        self.files = FileIntake(services, terminology, mappings, chunk_rows=chunk_rows)
        self.bundles = BundleIntake(services)

    @classmethod
    def load(cls, services: RecordServices, *, chunk_rows: int = 200) -> Intake:
        return cls(services, Terminology.load(), load_mappings(), chunk_rows=chunk_rows)

    @property
    def csv_kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self.mappings))

    @property
    def dev_mode(self) -> bool:
        settings = self.services.settings
        return settings.env == "dev" and settings.auth == "disabled"

    def hl7v2(self, payload: bytes, sender: Sender) -> MessageOutcome:
        return self.message_groups.ingest(payload, sender)

    def csv(
        self, payload: bytes, kind: str, sender: Sender, *, name: str | None = None
    ) -> FileOutcome:
        return self.files.ingest(payload, kind, sender, name=name)

    def fhir(self, payload: bytes, sender: Sender, *, name: str | None = None) -> FileOutcome:
        return self.bundles.ingest(payload, sender, name=name)
