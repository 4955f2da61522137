"""Reads through the caller-bound repository: what the caller may not see does not exist."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gateway.access.context import AccessContext
from gateway.errors import Forbidden, GatewayError, Gone, Issue, NotFound
from gateway.fhir.instant import from_micros
from gateway.policy import Action, PatientFacts, Policy
from gateway.policy.memo import DecisionMemo
from gateway.record.facts_cache import FACT_TYPES
from gateway.record.patient_facts import load_patient_facts
from gateway.record.search import match
from gateway.record.services import RecordServices
from gateway.storage.audit_search import audit_conditions, audit_count, audit_select
from gateway.storage.records import StoredVersion
from gateway.storage.sealing import open_audit
from gateway.storage.store import StoreTx

# (patient id, load) -> the patient's facts: loaded now, or shared (see share_facts).
FactsSource = Callable[[str, Callable[[], PatientFacts]], PatientFacts]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    versions: list[StoredVersion]
    next_before_seq: int | None  # continue with this cursor when not None


class RecordReader:
    """Read operations inside one open transaction, filtered by the access policy."""

    def __init__(self, ctx: AccessContext, services: RecordServices, tx: StoreTx) -> None:
        self._ctx = ctx
        self.services = services
        self._tx = tx
        self._facts: dict[str, PatientFacts] = {}
        self._generation: int | None = None
        self.disclosed: list[StoredVersion] = []  # what the caller was shown (for the audit)
        # Patients of what the caller asked for by id and was refused (hidden, or a write
        # the rules deny): the audit record of the failed interaction names them, so the
        # attempt shows in the patient's access log. Never told to the caller.
        self.refused: list[str] = []
        self._memo: DecisionMemo | None = None
        self._facts_source: FactsSource | None = None

    @property
    def ctx(self) -> AccessContext:
        return self._ctx

    def now(self) -> datetime:
        return from_micros(self.services.clock())

    def current(self, resource_type: str, rid: str) -> StoredVersion | None:
        return self.tx.current(resource_type, rid)

    def decision_memo(self, policy: Policy) -> DecisionMemo:
        if self._memo is None:
            self._memo = DecisionMemo(policy, self._ctx)
        return self._memo

    def patient_facts(self, patient_id: str) -> PatientFacts:
        """The patient's access facts: once per unit of work, and from the shared cache
        when the stamp of the fact-bearing types is unchanged. A unit that has written
        none of those types sees committed state only, at least as new as the stamp it
        read first (see gateway.record.facts_cache), so it reads the facts without
        flushing its queue (nothing queued bears on them) and shares them; a unit that
        has written some reads its own, and they never enter the cache."""
        facts = self._facts.get(patient_id)
        if facts is not None:
            return facts
        clean = self._facts_unwritten()
        tx = self._tx if clean else self.tx
        cache = self.services.facts_cache if clean else None
        if cache is not None:
            if self._generation is None:
                self._generation = tx.generation()
            facts = cache.get(patient_id, self._generation)
        if facts is None:
            if clean and self._facts_source is not None:
                facts = self._facts_source(
                    patient_id, lambda: load_patient_facts(tx, patient_id, now=self.now())
                )
            else:
                facts = load_patient_facts(tx, patient_id, now=self.now())
            if cache is not None and self._generation is not None:
                cache.put(patient_id, self._generation, facts)
        self._facts[patient_id] = facts
        return facts

    def share_facts(self, source: FactsSource) -> None:
        """Load patient facts through ``source(patient_id, load)``, which may return the
        facts another caller loaded *after* this unit's need began (the change feed's
        shared reads, :mod:`gateway.sync.feed_share`): facts are about the patient, the
        same whoever asks; the decision made with them stays this caller's. Only a unit
        that has written no fact-bearing type uses it."""
        self._facts_source = source

    def _forget_facts(self) -> None:
        self._facts.clear()
        self._generation = None

    def _facts_unwritten(self) -> bool:
        """Whether this unit has written no fact-bearing type (a reader never has)."""
        return self._tx.written.isdisjoint(FACT_TYPES)

    @property
    def tx(self) -> StoreTx:
        """The open transaction, brought up to date with this unit's pending writes."""
        return self._tx

    def write_refusal(
        self, action: Action, resource: dict[str, Any] | None, current: StoredVersion | None
    ) -> list[Issue]:
        """The issues the access rules would refuse a write with; [] when they allow it.

        A dry run of the writer's check (``$validate`` reports it): nothing is written.
        """
        try:
            self.services.policy.check_write(self, action, resource, current)
        except GatewayError as exc:
            return list(exc.issues)
        return []

    def audit_rows(
        self, params: Sequence[tuple[str, str]], *, before_seq: int | None, limit: int
    ) -> list[tuple[int, bytes]]:
        """Audit log entries matching auditor search ``params`` (auditors only: 403)."""
        self._auditor_only()
        stmt = audit_select(audit_conditions(params), before_seq=before_seq, limit=limit)
        conn = self.tx.conn
        return [(int(seq), open_audit(conn, seq, content)) for seq, content in conn.execute(stmt)]

    def audit_total(
        self, params: Sequence[tuple[str, str]], *, cap: int | None = None
    ) -> int | None:
        """How many entries match; ``None`` when ``cap`` is given and more match."""
        self._auditor_only()
        stmt = audit_count(audit_conditions(params), cap=cap)
        found = int(self.tx.conn.execute(stmt).scalar_one())
        return None if cap is not None and found > cap else found

    def _auditor_only(self) -> None:
        # Separation of duties (issue 7): auditors read the log; admins do not.
        dev = self.ctx.kind == "dev" and self.services.settings.auth == "disabled"
        if self.ctx.kind != "auditor" and not dev:
            raise Forbidden("Only auditors may read audit events", code="GW-2003")

    def disclose(self, versions: Sequence[StoredVersion]) -> None:
        """Note versions that go back to the caller: the audit record names them."""
        self.disclosed.extend(versions)

    def visible(self, version: StoredVersion, action: Action = Action.SEARCH_MATCH) -> bool:
        """May the caller see this version? A deletion is judged on the version it ended."""
        if version.deleted and version.version > 1:
            before = self.tx.version(version.resource_type, version.id, version.version - 1)
            if before is not None:
                version = replace(before, deleted=True)
        return self.services.policy.may_read(self, version, action)

    def visible_version(
        self,
        version: StoredVersion,
        action: Action = Action.SEARCH_MATCH,
        seen: dict[tuple[str, str], bool] | None = None,
        current_numbers: Mapping[tuple[str, str], int] | None = None,
    ) -> bool:
        """May the caller see this (possibly old) version? Only if it may see the resource
        as it is now, too: a document masked or relabelled later must not show through its
        old versions (vread, history). ``seen`` caches the verdict on current versions;
        ``current_numbers`` (from :meth:`StoreTx.current_numbers`, in this transaction)
        spares reading the current row of a version that is the current one."""
        key = (version.resource_type, version.id)
        now_visible = seen.get(key) if seen is not None else None
        if now_visible is None:
            if current_numbers is not None and current_numbers.get(key) == version.version:
                current: StoredVersion | None = version
            else:
                current = self.tx.current(*key)
            if current is not None and current.version == version.version:
                current = version  # judged once, below
            now_visible = current is not None and self.visible(current, action)
            if seen is not None:
                seen[key] = now_visible
            if current is version:
                return now_visible
        return now_visible and self.visible(version, action)

    def may_search_type(self, resource_type: str) -> bool:
        """Whether a chain, ``_has`` or ``_list`` may read ``resource_type`` resources
        for this caller (a 400 otherwise), by the access rules at type level."""
        return self.services.policy.may_search_type(self, resource_type)

    def match(
        self, resource_type: str, params: Sequence[tuple[str, str]], *, limit: int
    ) -> list[StoredVersion]:
        """Up to ``limit`` current resources matching ``params`` that the caller may see
        (the full search grammar, strict), for conditional interactions."""
        return match(self, resource_type, list(params), limit=limit)

    def note_refused(self, patient_id: str | None) -> None:
        """Name ``patient_id`` in the audit record of this interaction, if it fails."""
        if patient_id:
            self.refused.append(patient_id)

    def read(self, resource_type: str, rid: str) -> StoredVersion:
        """The current version; 404 when absent or hidden, 410 when deleted."""
        current = self.tx.current(resource_type, rid)
        if current is None or not self.visible(current, Action.READ):
            self.note_refused(current.patient_id if current is not None else None)
            raise NotFound(f"{resource_type}/{rid} is not known", code="GW-3004")
        if current.deleted:
            raise Gone(
                f"{resource_type}/{rid} was deleted (version {current.version})",
                headers={"ETag": f'W/"{current.version}"'},
            )
        self.disclose([current])
        return current

    def vread(self, resource_type: str, rid: str, version: int) -> StoredVersion:
        found = self.tx.version(resource_type, rid, version)
        if found is None or not self.visible_version(found, Action.READ):
            self.note_refused(found.patient_id if found is not None else None)
            raise NotFound(f"{resource_type}/{rid} has no version {version}", code="GW-3006")
        if found.deleted:
            raise Gone(f"Version {version} of {resource_type}/{rid} is a deletion")
        self.disclose([found])
        return found

    def history(
        self,
        *,
        resource_type: str | None,
        rid: str | None,
        since: int | None,
        at: tuple[int, int] | None,
        count: int,
        before_seq: int | None,
    ) -> HistoryPage:
        """One page of history, newest first, counted after access filtering."""
        if rid is not None and resource_type is not None:
            current = self.tx.current(resource_type, rid)
            if current is None or not self.visible(current):
                self.note_refused(current.patient_id if current is not None else None)
                raise NotFound(f"{resource_type}/{rid} is not known")
        picked: list[StoredVersion] = []
        seen: dict[tuple[str, str], bool] = {}
        cursor = before_seq
        batch = max(count + 1, 50)
        while len(picked) <= count:
            rows = self.tx.history(
                resource_type=resource_type,
                rid=rid,
                since=since,
                at=at,
                before_seq=cursor,
                limit=batch,
            )
            picked.extend(v for v in rows if self.visible_version(v, seen=seen))
            if len(rows) < batch:
                break
            cursor = rows[-1].seq
        if len(picked) > count:
            page = picked[:count]
            self.disclose(page)
            return HistoryPage(page, page[-1].seq)
        self.disclose(picked)
        return HistoryPage(picked, None)
