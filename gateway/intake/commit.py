"""Writing a :class:`~gateway.intake.plan.Plan`: transaction Bundles through the repository.

Inside one :class:`~gateway.intake.unit.WriteUnit` (one database transaction):

1. **products**: Medication entries are stored by the gateway's catalogue writer
   (:mod:`gateway.intake.gateway_writer`) and their fullUrls rebound;
2. **roster** (EHPAD systems only): the new residents' Patient entries and the Group
   update enrolling them run first, as one transaction Bundle, so that the rules see
   the membership when the residents' clinical data is written;
3. **everything else**: one transaction Bundle (or one per patient claim for a
   professional caller) through ``dispatch(FhirRequest("POST", [], resource=bundle))``
   with the repository bound to the sender: conditional creates deduplicate on
   business identifiers; Patient updates and merges are PUTs with ``If-Match``, and so
   are the corrections :mod:`gateway.intake.facts` found (a corrected or retracted
   Observation, a MedicationAdministration entered in error, a report made final or
   corrected, an order cancelled or stopped: a new version of the stored resource, its
   id kept).

A refused write raises :class:`StageFailure` naming the results whose entries were at
fault, so a CSV chunk can set them aside and store the rest; the unit is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.errors import GatewayError
from gateway.fhir.instant import from_micros
from gateway.fhir.references import iter_reference_holders
from gateway.ingest.result import Entry, ParseResult, rebind
from gateway.intake.facts import Facts
from gateway.intake.failures import failing_entries
from gateway.intake.gateway_writer import gateway_writer, write_products
from gateway.intake.hidden import UNGUARDED, may_read
from gateway.intake.known import known_entries
from gateway.intake.plan import Plan
from gateway.intake.sender import Sender
from gateway.intake.unit import WriteUnit
from gateway.record.facts_cache import warm
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.router import dispatch
from gateway.storage.records import StoredVersion

SHARED_TYPES = frozenset({"Practitioner", "PractitionerRole", "Organization", "Medication"})
_REPRESENTATION = {"prefer": "return=representation"}


@dataclass(frozen=True, slots=True)
class Written:
    """One resource a payload produced: ``created``, ``exists`` (deduplicated on its
    business identifier), ``updated`` or ``unchanged``."""

    reference: str
    resource_type: str
    status: str

    def to_json(self) -> dict[str, str]:
        return {"reference": self.reference, "status": self.status}


class StageFailure(Exception):
    """A refused write; ``items`` are the results whose entries it names (may be empty)."""

    def __init__(self, error: GatewayError, items: set[int]) -> None:
        super().__init__(error.diagnostics)
        self.error = error
        self.items = items


@dataclass(slots=True)
class Applied:
    written: dict[int, list[Written]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # fullUrl -> Type/id

    def item_status(self, index: int) -> str:
        """``accepted`` when the item stored something new, else ``duplicate``."""
        for w in self.written.get(index, []):
            if w.resource_type not in SHARED_TYPES and w.status in ("created", "updated"):
                return "accepted"
        return "duplicate"


@dataclass(slots=True)
class _Bundle:
    entries: list[dict[str, Any]] = field(default_factory=list)
    owners: list[set[int]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # fullUrl, or the PUT target
    seen: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, fhir: dict[str, Any], owner: Iterable[int]) -> None:
        at = self.seen.get(key)
        if at is None:
            self.seen[key] = len(self.entries)
            self.entries.append(fhir)
            self.owners.append(set(owner))
            self.keys.append(key)
        else:
            self.owners[at].update(owner)

    def resource(self) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}


def _put(reference: str, body: dict[str, Any], version: int | None) -> dict[str, Any]:
    rtype, rid = reference.split("/", 1)
    request: dict[str, Any] = {"method": "PUT", "url": reference}
    if version is not None:
        request["ifMatch"] = f'W/"{version}"'
    return {
        "fullUrl": reference,
        "resource": {**body, "resourceType": rtype, "id": rid},
        "request": request,
    }


def _dependencies(entry: Entry, by_url: dict[str, Entry]) -> list[Entry]:
    """``entry`` and the entries of the same result it references, transitively."""
    out: list[Entry] = []
    todo = [entry]
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current.full_url in seen:
            continue
        seen.add(current.full_url)
        out.append(current)
        for holder in iter_reference_holders(current.resource):
            target = by_url.get(holder["reference"])
            if target is not None:
                todo.append(target)
    return out


class Committer:
    def __init__(
        self, unit: WriteUnit, sender: Sender, plan: Plan, facts: Facts | None = None
    ) -> None:
        self.unit = unit
        self.sender = sender
        self.plan = plan
        self.results: dict[int, ParseResult] = {i: p.result for i, p in plan.items.items()}
        self.applied = Applied()
        self._corrected: dict[str, int] = {}  # Type/id -> the stored version it replaces
        if facts is not None and facts.updates:
            self._corrections(facts)

    def _corrections(self, facts: Facts) -> None:
        """Corrections become ``PUT Type/id`` entries (``If-Match`` the stored version);
        the entries that referenced them (a DiagnosticReport's results) are rebound."""
        mapping: dict[str, str] = {}
        results: dict[int, ParseResult] = {}
        for i, result in self.results.items():
            entries: list[Entry] = []
            for entry in result.entries:
                put = facts.as_put(entry)
                if put is None:
                    entries.append(entry)
                    continue
                mapping[entry.full_url] = put.full_url
                self._corrected[put.full_url] = facts.updates[entry.full_url].version
                entries.append(put)
            results[i] = replace(result, entries=tuple(entries))
        self.results = {i: rebind(r, mapping) for i, r in results.items()}

    def run(self) -> Applied:
        mapping = {
            p.result.patient.reference: p.patient
            for p in self.plan.items.values()
            if p.result.patient is not None and p.patient and not p.new_patient
        }
        mapping.update(self._products())
        mapping.update(self._known())
        self._rebind(mapping)  # once: rewriting every resource is not free
        for i, p in self.plan.items.items():
            if p.patient and not p.new_patient and p.patient not in p.updates:
                self._note(i, Written(p.patient, "Patient", "exists"))
        if self.plan.group is not None:
            self._roster()
        self._clinical()
        return self.applied

    # -- stages ---------------------------------------------------------------------------

    def _rebind(self, mapping: dict[str, str]) -> None:
        if mapping:
            self.results = {i: rebind(r, mapping) for i, r in self.results.items()}
            self.applied.refs.update(mapping)

    def _known(self) -> dict[str, str]:
        """Entries whose business identifier is stored already (:mod:`.known`)."""
        self.unit.flush()
        owners: dict[str, set[int]] = {}
        entries: dict[str, Entry] = {}
        for i, result in self.results.items():
            for entry in result.entries:
                owners.setdefault(entry.full_url, set()).add(i)
                entries[entry.full_url] = entry
        mapping, absent = known_entries(
            self.unit.tx, entries.values(), self.unit.services.blind.identifier
        )
        readable = may_read(self.unit, self.sender, self.plan)
        for url, reference in list(mapping.items()):
            if reference.startswith("urn:") or reference.split("/", 1)[0] in UNGUARDED:
                continue
            version = self.unit.tx.current(*reference.split("/", 1))
            if version is None or not all(readable(i, version) for i in owners.get(url, ())):
                del mapping[url]  # hidden from the sender: its conditional create decides
        for url, reference in mapping.items():
            if not reference.startswith("urn:"):
                for i in owners.get(url, ()):
                    self._note(i, Written(reference, reference.split("/", 1)[0], "exists"))
        if absent:
            self.results = {
                i: replace(
                    r,
                    entries=tuple(
                        replace(e, if_none_exist=None) if e.full_url in absent else e
                        for e in r.entries
                    ),
                )
                for i, r in self.results.items()
            }
        return mapping

    def _products(self) -> dict[str, str]:
        products: dict[str, tuple[Entry, set[int]]] = {}
        for i, result in self.results.items():
            for entry in result.entries:
                if entry.resource_type == "Medication":
                    products.setdefault(entry.full_url, (entry, set()))[1].add(i)
        if not products:
            return {}
        writer = gateway_writer(self.unit, self.sender.structure)
        mapping: dict[str, str] = {}
        for url, (entry, owners) in products.items():
            try:
                mapping.update(write_products(writer, [entry]))
            except GatewayError as exc:
                raise StageFailure(exc, owners) from exc
            for i in owners:
                self._note(i, Written(mapping[url], "Medication", "exists"))
        return mapping

    def _roster(self) -> None:
        bundle = _Bundle()
        for i, item in self.plan.items.items():
            if not item.new_patient or item.patient not in self.plan.enrol:
                continue
            result = self.results[i]
            by_url = {e.full_url: e for e in result.entries}
            patient_entry = by_url.get(item.patient or "")
            if patient_entry is None:
                continue
            for entry in _dependencies(patient_entry, by_url):
                bundle.add(entry.full_url, entry.to_fhir(), {i})
        group = self.plan.group or {}
        group_ref = f"Group/{self.sender.ctx.group}"
        enrolled = {i for i, p in self.plan.items.items() if p.patient in self.plan.enrol}
        bundle.add(group_ref, _put(group_ref, group, self.plan.group_version), enrolled)
        refs = self._dispatch(bundle, self.sender)
        self._rebind({k: v for k, v in refs.items() if k.startswith("urn:")})

    def _warm_facts(self) -> None:
        """Load the access facts of the payloads' known patients in one go (into the
        shared cache, :func:`gateway.record.facts_cache.warm`) before the rules ask for
        them one patient at a time. A single patient gains nothing from it."""
        cache = self.unit.services.facts_cache
        ids = {
            p.patient.split("/", 1)[1]
            for p in self.plan.items.values()
            if p.patient and not p.new_patient
        }
        if cache is None or len(ids) < 2:
            return
        self.unit.flush()  # as the writer about to be made would
        warm(cache, self.unit.tx, ids, now=from_micros(self.unit.services.clock()))

    def _clinical(self) -> None:
        self._warm_facts()
        groups: dict[str | None, list[int]] = {}
        professional = self.sender.ctx.kind == "professional"
        for i, item in self.plan.items.items():
            groups.setdefault(item.claim if professional else None, []).append(i)
        done: set[str] = set()
        for claim, members in groups.items():
            bundle = _Bundle()
            for i in members:
                for entry in self.results[i].entries:
                    if entry.full_url not in self.applied.refs:
                        bundle.add(entry.full_url, entry.to_fhir(), {i})
                for ref in self.plan.items[i].updates:
                    if ref in done and ref not in bundle.seen:
                        continue  # written by the Bundle of another claim
                    done.add(ref)
                    body = self.plan.updates[ref]
                    bundle.add(ref, _put(ref, body, self.plan.versions.get(ref)), {i})
            if bundle.entries:
                self._dispatch(bundle, self.sender.for_patient(claim))

    # -- dispatch and its response -----------------------------------------------------------

    def _note(self, item: int, written: Written) -> None:
        self.applied.written.setdefault(item, []).append(written)

    def _dispatch(self, bundle: _Bundle, sender: Sender) -> dict[str, str]:
        repo = self.unit.repository(sender.ctx)
        request = FhirRequest(
            "POST", [], resource=bundle.resource(), headers=_REPRESENTATION, base=""
        )
        try:
            response = dispatch(request, repo)
        except GatewayError as exc:
            owners: set[int] = set()
            for index in failing_entries(exc):
                if 0 <= index < len(bundle.owners):
                    owners |= bundle.owners[index]
            raise StageFailure(exc, owners) from exc
        refs: dict[str, str] = {}
        # The entry responses in structured form: the same facts as the response
        # Bundle's ``entry[i].resource`` and ``response.status``, without parsing it.
        for index, entry_response in enumerate(_entry_responses(response)):
            stored = entry_response.version
            if entry_response.body is None or entry_response.status >= 300 or stored is None:
                continue  # the Bundle holds no resource for this entry
            reference = f"{stored.resource_type}/{stored.id}"
            key = bundle.keys[index]
            refs[key] = reference
            status = self._status(entry_response.status, key, bundle.entries[index], stored)
            for owner in bundle.owners[index]:
                self._note(owner, Written(reference, stored.resource_type, status))
        self.applied.refs.update(refs)
        return refs

    def _status(self, code: int, key: str, entry: dict[str, Any], stored: StoredVersion) -> str:
        if code == 201:
            return "created"
        if entry["request"]["method"] == "POST":
            return "exists"
        before = self._corrected.get(key) or self.plan.versions.get(key, self.plan.group_version)
        return "unchanged" if before is not None and before == stored.version else "updated"


def _entry_responses(response: FhirResponse) -> tuple[FhirResponse, ...]:
    if response.entries is None:  # pragma: no cover - a transaction always has them
        raise RuntimeError("a transaction response without its entry responses")
    return response.entries
