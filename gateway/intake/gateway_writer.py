"""What the gateway itself writes while ingesting: Provenance, and product data.

Two kinds of resource in an ingested payload are not the sender's to write under the
DMP rules, yet ingestion needs them:

- **Provenance** is in the ``audit`` class: the rules refuse every write of it
  (``audit-immutable``; "AuditEvent and Provenance are never written through the API",
  gateway/policy/README.md). The Provenance of a message is the gateway's own record of
  what it received and how it normalised it, so the gateway writes it, in the same
  transaction as the data it describes.
- **Medication** (a product: a CIP13/UCD code and a label) is ``not-clinical`` data,
  which only admins may write (``not-clinical-write``). A dispensation needs its
  Medication; the product carries no patient data, so the gateway records it as
  catalogue data, once per code (a deterministic id derived from the code, which is
  also what makes the same product from two channels one resource).

:class:`GatewayWrites` is the access policy of these writes: it allows the *creation*
of exactly these two types and nothing else, and reads nothing. Each resource still
goes through the write path (structure, profiles, stamping, indexes). This is a
deliberate, documented exception, reported to the lead: it does not change what any
caller may do through the API.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from gateway.access.context import AccessContext
from gateway.errors import Forbidden
from gateway.ingest.result import Entry
from gateway.intake.unit import WriteUnit
from gateway.policy import Action, Decision
from gateway.record.seams import AccessPolicy, AccessUnit, WriteGrant
from gateway.record.writer import RecordWriter
from gateway.storage.records import StoredVersion

GATEWAY_TYPES = frozenset({"Provenance", "Medication"})
GATEWAY_SUBJECT = "dmp-gateway/intake"


@dataclass(frozen=True, slots=True)
class GatewayWrites:
    """The policy of the gateway's own writes; ``reads`` answers every read question."""

    reads: AccessPolicy

    def may_read(self, unit: AccessUnit, version: StoredVersion, action: Action) -> bool:
        return False

    def explain(self, unit: AccessUnit, version: StoredVersion, action: Action) -> Decision:
        return self.reads.explain(unit, version, action)

    def may_search_type(self, unit: AccessUnit, resource_type: str) -> bool:
        return False  # the gateway's own writer searches nothing

    def check_write(
        self,
        unit: AccessUnit,
        action: Action,
        resource: dict[str, Any] | None,
        current: StoredVersion | None,
    ) -> WriteGrant:
        rtype = (resource or {}).get("resourceType")
        if action is not Action.CREATE or rtype not in GATEWAY_TYPES:
            raise Forbidden(f"the gateway's intake writer may not {action.value} {rtype}")
        return WriteGrant(author=unit.ctx.subject, author_structure=unit.ctx.structure)


def gateway_context(structure: str) -> AccessContext:
    """Who the gateway's own writes are recorded as: itself, for the sender's structure."""
    return AccessContext(
        kind="system",
        client_id="dmp-gateway",
        subject=GATEWAY_SUBJECT,
        structure=structure,
        software="dmp-gateway/intake",
    )


def gateway_writer(unit: WriteUnit, structure: str, *, flush: bool = True) -> RecordWriter:
    """A writer of the gateway's own resources on ``unit``; ``flush=False`` leaves the
    other writers' queues queued (see :meth:`WriteUnit.writer`)."""
    services = replace(unit.services, policy=GatewayWrites(unit.services.policy))
    return unit.writer(gateway_context(structure), services, flush=flush)


def medication_id(condition: str) -> str | None:
    """The catalogue id of a Medication conditional on its code (``code=system|value``)."""
    pairs = parse_qsl(condition, keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != "code" or "|" not in pairs[0][1]:
        return None
    digest = hashlib.sha256(pairs[0][1].encode("utf-8")).hexdigest()[:40]
    return f"med-{digest}"


def write_products(writer: RecordWriter, entries: list[Entry]) -> dict[str, str]:
    """Store the Medication entries; return their fullUrl → ``Medication/<id>``.

    A coded Medication (no lot) is catalogue data with a deterministic id: created when
    absent, reused otherwise. Anything more specific is created as given.
    """
    mapping: dict[str, str] = {}
    for entry in entries:
        rid = medication_id(entry.if_none_exist or "")
        if rid is not None:
            current = writer.tx.current("Medication", rid)
            if current is not None and not current.deleted:
                mapping[entry.full_url] = f"Medication/{rid}"
                continue
            if current is not None:  # deleted from the catalogue: a new one, elsewhere
                rid = None
        result = writer.create(dict(entry.resource), rid=rid)
        mapping[entry.full_url] = f"Medication/{result.version.id}"
    return mapping


def write_provenance(writer: RecordWriter, resource: dict[str, Any]) -> str:
    """Create the Provenance; returns its id."""
    return writer.create(resource).version.id
