"""The same fact, a correction, or a conflict: what a business-identifier match means.

Observations, MedicationAdministrations, DiagnosticReports, MedicationDispenses and
MedicationRequests are keyed on a business identifier (a lab's report number + OBX-3 +
OBX-4, OBR-3/OBR-2, ORC-3 + RXD-1, ORC-2; or a natural key ``nk-…`` hashed from the
patient, the code and the time: :mod:`gateway.ingest`). A match on that key alone does
not make a payload a duplicate: a key says *which* fact a payload is about, not *what*
it says. This stage, run in the unit's transaction before anything is written, compares
what each such entry states with what is stored under its key (the current version), or
with what an earlier entry of the same unit states under it:

- **the same fact**: the same *clinical content*: the status, and the value. For an
  Observation the value is its ``value[x]``, ``component`` (value per component code) or
  ``dataAbsentReason``; and its ``interpretation``. For a MedicationAdministration: the
  status, ``dosage.dose`` and ``dosage.route``. For a DiagnosticReport (OBR): the
  status, ``code`` and ``effectiveDateTime``; not its ``result`` list (each result is a
  fact of its own, judged on its key; a resend may carry a subset of them, and the
  payload's references are not resolved yet) nor ``issued``. For a MedicationDispense
  (RXD): the status, the medication, ``quantity``, ``whenHandedOver`` and the first
  ``dosageInstruction`` (its text, dose, route and timing). For a MedicationRequest
  (RXE): the status, the medication, the first ``dosageInstruction`` and
  ``dispenseRequest`` (quantity, ``numberOfRepeatsAllowed``); not ``authoredOn`` (ORC-9
  is the time of the transaction: a cancel carries its own). A ``medicationReference``
  is compared by the code of the Medication it names (an entry of the payload, or the
  stored Medication), never by the reference. Quantities are equal when their numbers
  are (as decimals) and their UCUM codes are (the unit label when either has no code);
  codeable concepts when they share a ``system|code`` (their texts when neither has a
  coding). An element only one side carries is not compared: the HL7 and CSV channels of
  one source do not carry the same elements (a CSV has no interpretation, a route may
  come as a coding or as text), and the same dispensation sent both ways must stay one
  resource. Server-managed fields (``id``, ``meta``, ``text``), identifiers, the
  subject, references to actors, notes, ``issued`` and everything the message itself
  identifies (its Provenance) are not compared. Same fact: the entry is a ``duplicate``,
  as before (the conditional create matches);
- **a correction**: different content whose status supersedes the stored one (HL7 v2.5
  OBX-11, table 0085 → FHIR ``Observation.status``): ``corrected`` (C) or ``amended``
  supersede any status; ``entered-in-error`` (W, D; RXA-21 ``D``) any but itself;
  ``final`` (F) supersedes ``preliminary`` and ``registered``; ``preliminary`` and
  ``cancelled`` supersede ``registered`` (and ``cancelled`` ``preliminary``). For a
  DiagnosticReport (OBR-25, FHIR ``diagnostic-report-status``): ``partial`` and
  ``preliminary`` supersede ``registered``; ``final`` and ``cancelled`` supersede
  ``registered``, ``partial``, ``preliminary``; ``corrected`` (C), ``amended`` and
  ``appended`` supersede those and ``final``, ``amended``, ``corrected``, ``appended``
  (not ``cancelled``); ``entered-in-error`` any but itself. For a MedicationDispense
  (always ``completed`` from RXD): ``entered-in-error`` any but itself, ``completed``
  supersedes ``preparation`` and ``in-progress``; nothing else, so a dispensation sent
  again with another quantity or product is a conflict. For a MedicationRequest, only what ORC-1/
  ORC-5 express (:mod:`gateway.ingest.hl7v2.pharmacy`): ``cancelled`` (CA, OC, CR)
  supersedes ``active``, ``on-hold``, ``draft``; ``stopped`` (DC, OD) and ``completed``
  (ORC-5 CM) supersede ``active`` and ``on-hold``; ``on-hold`` (HD, OH) ``active``;
  ``active`` (RL) ``on-hold``; ``entered-in-error`` any but itself. A changed order (ORC-1
  XO, :attr:`Entry.replaces`) is the prescriber's new version of an order still in
  force (``active``, ``on-hold``, ``draft``): it replaces it whatever it changes (dose,
  quantity, product); an order cancelled, stopped or completed is not revived by it
  (a conflict). The entry becomes a version-aware update (``PUT Type/id`` with
  ``If-Match``) of the stored resource: its id is kept, a new version is written, the
  payload's Provenance names it, and the payload is ``accepted``;
- **a conflict**: different content without a superseding status (120 after 72, both
  final; a CSV row, which has no status column, that says another value), or two entries
  of one unit that state different things under one key, whatever their statuses (a unit
  states each fact once). Nothing is dropped silently: the payload (the HL7 message, the
  CSV record) goes to quarantine with ``reason=conflict`` and both versions (value,
  unit, status; a medication's code) in its details; HL7 gets AE with an ERR naming the
  OBX (or RXA, OBR, RXD, RXE), ERR-3 205 and :data:`GW_FACT_CONFLICT`.

Only single-identifier conditional creates of these types (:data:`FACT_TYPES`) are
judged; everything else keeps the plain ``ifNoneExist`` dedup
(:mod:`gateway.intake.known`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, select

from gateway.ingest.issues import IngestIssue, Location, error
from gateway.ingest.result import Entry, ParseResult
from gateway.intake.fact_content import (
    MEDICATION,
    changeable,
    differences,
    summary,
    supersedes,
)
from gateway.intake.hidden import MayRead
from gateway.intake.known import _identifier, _lock_key, identifier_lookup, identifier_rows
from gateway.intake.unit import WriteUnit
from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx
from gateway.storage.version_rows import CURRENT_COLUMNS, bulk_version

FACT_TYPES = frozenset(
    {
        "Observation",
        "MedicationAdministration",
        "DiagnosticReport",
        "MedicationDispense",
        "MedicationRequest",
    }
)
GW_FACT_CONFLICT = "GW-4115"
HL7_DUPLICATE_KEY = "205"  # table 0357: duplicate key identifier

# -- the stage -------------------------------------------------------------------------------

_r = s.resource
# :data:`gateway.intake.known._LOOKUP` with the current rows themselves: one query.
_VERSIONS = identifier_lookup(*CURRENT_COLUMNS)
_BATCH = 400  # Medication ids per statement


def _stored_versions(
    tx: StoreTx, keys: list[tuple[str, str, str]], stored: Callable[[str], str]
) -> dict[tuple[str, str, str], list[StoredVersion]]:
    """The live resources carrying each (type, system, value) identifier."""
    out: dict[tuple[str, str, str], list[StoredVersion]] = {}
    for key, row in identifier_rows(tx, _VERSIONS, keys, stored):
        found = out.setdefault(key, [])
        if all(v.id != row.id for v in found):
            found.append(bulk_version(row, tx.conn))
    return out


# -- judging -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FactConflict:
    """A unit's result refused: it states another value for a fact already stated."""

    diagnostics: str
    details: dict[str, Any]
    location: Location | None = None

    def issue(self) -> IngestIssue:
        return error(
            self.diagnostics,
            self.location,
            code="conflict",
            gateway_code=GW_FACT_CONFLICT,
            hl7_error=HL7_DUPLICATE_KEY,
        )


@dataclass(frozen=True, slots=True)
class FactUpdate:
    """A correction: the entry replaces the stored resource ``reference`` at ``version``."""

    reference: str
    version: int


@dataclass(slots=True)
class Facts:
    conflicts: dict[int, FactConflict] = field(default_factory=dict)
    updates: dict[str, FactUpdate] = field(default_factory=dict)  # fullUrl -> stored

    def as_put(self, entry: Entry) -> Entry | None:
        """``entry`` as the PUT that updates its stored resource, if it is a correction."""
        update = self.updates.get(entry.full_url)
        if update is None:
            return None
        rid = update.reference.split("/", 1)[1]
        return Entry(
            update.reference,
            {**entry.resource, "id": rid},
            "PUT",
            update.reference,
            None,
            if_match=f'W/"{update.version}"',
            location=entry.location,
        )


@dataclass(slots=True)
class _Current:
    resource: Mapping[str, Any]
    reference: str | None  # the stored resource, None when an entry of this unit states it
    version: int = 0
    updated: bool = False


def _where(entry: Entry) -> str:
    return str(entry.location) if entry.location is not None else entry.resource_type


def check_facts(
    unit: WriteUnit, results: Mapping[int, ParseResult], may_read: MayRead | None = None
) -> Facts:
    """Judge every Observation and MedicationAdministration of the unit's results
    (in index order) against what is stored and what earlier entries state. A stored
    version ``may_read`` says the sender may not read is no match (see
    :mod:`gateway.intake.hidden`)."""
    unit.flush()  # what earlier messages of a group commit queued is stored too
    tx, stored = unit.tx, unit.services.blind.identifier
    facts = Facts()
    wanted: dict[tuple[str, str, str], list[tuple[int, Entry]]] = {}
    for i, result in results.items():
        for entry in result.entries:
            if entry.resource_type not in FACT_TYPES:
                continue
            found = _identifier(entry)
            if found is not None:
                wanted.setdefault((entry.resource_type, *found), []).append((i, entry))
    if not wanted:
        return facts
    if tx.dialect == "postgresql":  # the locks known_entries takes, taken first
        tx.lock(*(_lock_key(*key) for key in wanted))
    current: dict[tuple[str, str, str], _Current] = {}
    for key, versions in _stored_versions(tx, list(wanted), stored).items():
        if len(versions) != 1:
            continue  # several: left to the transaction, as before
        version = versions[0]
        if version.deleted or version.content is None:
            continue
        if may_read is not None and not all(may_read(i, version) for i, _ in wanted[key]):
            continue  # hidden from the sender: left to the write and its rules
        body: Any = orjson.loads(version.content)
        if isinstance(body, dict):
            current[key] = _Current(body, f"{key[0]}/{version.id}", version.version)
    view = _medications(tx, results, [c.resource for c in current.values()])
    for c in current.values():
        c.resource = view(c.resource)
    by_item: dict[int, list[tuple[tuple[str, str, str], Entry]]] = {}
    for key, pairs in wanted.items():
        for i, entry in pairs:
            by_item.setdefault(i, []).append((key, entry))
    for i in sorted(by_item):
        _judge(i, [(k, e, view(e.resource)) for k, e in by_item[i]], current, facts)
    return facts


_BY_MEDICATION = frozenset({"MedicationDispense", "MedicationRequest"})


def _medication_ids(resources: Iterable[Mapping[str, Any]]) -> set[str]:
    out: set[str] = set()
    for resource in resources:
        if resource.get("resourceType") not in _BY_MEDICATION:
            continue
        ref = (resource.get("medicationReference") or {}).get("reference")
        if isinstance(ref, str) and ref.startswith("Medication/"):
            out.add(ref)
    return out


def _medications(
    tx: StoreTx, results: Mapping[int, ParseResult], stored: list[Mapping[str, Any]]
) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """A view of a resource with the code of the Medication it references (an entry of
    the payload, or a stored Medication) under :data:`MEDICATION`, to compare it."""
    codes: dict[str, Any] = {}
    incoming: list[Mapping[str, Any]] = []
    for result in results.values():
        for entry in result.entries:
            if entry.resource_type == "Medication" and entry.resource.get("code"):
                codes[entry.full_url] = entry.resource["code"]
            elif entry.resource_type in FACT_TYPES:
                incoming.append(entry.resource)
    ids = sorted(_medication_ids([*stored, *incoming]) - set(codes))
    for start in range(0, len(ids), _BATCH):
        wanted = [ref.split("/", 1)[1] for ref in ids[start : start + _BATCH]]
        rows = tx.conn.execute(
            select(*CURRENT_COLUMNS).where(
                and_(
                    _r.c.resource_type == "Medication",
                    _r.c.id.in_(wanted),
                    _r.c.deleted.is_(False),
                )
            )
        ).all()
        for row in rows:
            version = bulk_version(row, tx.conn)
            body: Any = orjson.loads(version.content) if version.content else None
            if isinstance(body, dict) and body.get("code"):
                codes[f"Medication/{row.id}"] = body["code"]

    def view(resource: Mapping[str, Any]) -> Mapping[str, Any]:
        if resource.get("resourceType") not in _BY_MEDICATION:
            return resource
        ref = (resource.get("medicationReference") or {}).get("reference")
        code = codes.get(ref) if isinstance(ref, str) else None
        return {**resource, MEDICATION: code} if code is not None else resource

    return view


def _judge(
    item: int,
    pairs: list[tuple[tuple[str, str, str], Entry, Mapping[str, Any]]],
    current: dict[tuple[str, str, str], _Current],
    facts: Facts,
) -> None:
    """One result's entries (with what each states, :func:`_medications`); its claims
    count for later results only if it is kept."""
    claims: dict[tuple[str, str, str], _Current] = {}
    updates: dict[str, FactUpdate] = {}
    for key, entry, states in pairs:
        now = claims.get(key) or current.get(key)
        if now is None:
            claims[key] = _Current(states, None)
            continue
        changed = differences(now.resource, states)
        if not changed:
            continue
        if (
            now.reference is not None
            and not now.updated
            and (
                supersedes(
                    entry.resource_type,
                    str(entry.resource.get("status")),
                    str(now.resource.get("status")),
                )
                or (entry.replaces and changeable(entry.resource_type, now.resource))
            )
        ):
            updates[entry.full_url] = FactUpdate(now.reference, now.version)
            claims[key] = _Current(states, now.reference, now.version, updated=True)
            continue
        facts.conflicts[item] = _conflict(entry, states, now, changed)
        return
    current.update(claims)
    facts.updates.update(updates)


_HINTS = {
    "Observation": "OBX-11 C or W",
    "MedicationAdministration": "RXA-21 D to retract",
    "DiagnosticReport": "OBR-25 C, or F after P",
    "MedicationDispense": "a dispensation is not corrected in place: another RXD-1 sub-id",
    "MedicationRequest": "ORC-1 XO to change an order in force; CA, DC, HD or RL",
}


def _conflict(
    entry: Entry, states: Mapping[str, Any], now: _Current, changed: list[str]
) -> FactConflict:
    kind = entry.resource_type
    new, old = summary(states), summary(now.resource)
    if now.reference is not None:
        whom, side = f"{now.reference}", "stored"
        why = f"the status {new['status']!r} does not supersede the stored {old['status']!r}"
    else:
        whom, side = "another entry of the same payload", "earlier"
        why = "a payload states each fact once"
    hint = _HINTS.get(kind, "a superseding status")
    diagnostics = (
        f"{_where(entry)}: this {kind} has the business identifier (for a measurement: "
        f"patient, code, time) of {whom} but says something else ({', '.join(changed)}: "
        f"{_show(new)} instead of {_show(old)}); {why}. Not stored: send a correction "
        f"({hint}) or check the data"
    )
    details: dict[str, Any] = {
        "resourceType": kind,
        side: {**old, **({"reference": now.reference} if now.reference else {})},
        "incoming": new,
        "differences": changed,
    }
    if entry.location is not None:
        details["location"] = str(entry.location)
    return FactConflict(diagnostics, details, entry.location)


def _show(summary_: Mapping[str, Any]) -> str:
    value = summary_.get("value", summary_.get("dataAbsentReason", "?"))
    unit = f" {summary_['unit']}" if summary_.get("unit") else ""
    return f"{value}{unit} ({summary_.get('status')})"
