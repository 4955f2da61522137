"""Planning the writes of parsed payloads: identity decisions, updates, merges, roster.

:func:`plan` takes the parse results of one unit of work (one HL7 message, or the
records of one CSV chunk) and decides, before anything is written:

- for each result, who its patient is (:func:`gateway.intake.identity.identify`); a
  conflict or an unknown patient *refuses* that result (it goes to quarantine), the
  others go on;
- the Patient updates: demographics a payload asserts (:func:`merged_patient`), and A40
  merges (:func:`linked`, :func:`retired`), combined per Patient so that a transaction
  touches each Patient once;
- the roster: an EHPAD system (a ``system`` caller bound to a Group) admitting or
  updating a resident enrols the resident in its Group, before the resident's clinical
  data is written (the rules let a system write only for members of its Group);
- the patient claim of a professional caller (the INS, else ``Patient/<id>``), and the
  probable matches to flag for review.

Pure apart from the lookups through :class:`PatientIndex`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.access.context import AccessContext
from gateway.fhir.meta import without_server_meta
from gateway.ingest.result import ParseResult
from gateway.intake.demographics import enrolled, is_member, linked, merged_patient, retired
from gateway.intake.identity import (
    Conflict,
    Match,
    PatientIndex,
    StoredPatient,
    Unknown,
    identify,
    resolve_merge,
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A result the identity stage refuses: ``reason`` is ``conflict`` or ``rejected``."""

    reason: str
    diagnostics: str
    details: dict[str, Any] | None = None
    patient_id: str | None = None
    hl7_error: str = "204"


@dataclass(slots=True)
class ItemPlan:
    """What to do with one accepted result."""

    result: ParseResult
    patient: str | None = None  # "Patient/<id>" when matched, else the new Patient's fullUrl
    new_patient: bool = False
    claim: str | None = None
    probable: tuple[StoredPatient, ...] = ()
    updates: list[str] = field(default_factory=list)  # Patient refs this item changes
    merge: bool = False


@dataclass(slots=True)
class Plan:
    items: dict[int, ItemPlan] = field(default_factory=dict)
    refused: dict[int, Refusal] = field(default_factory=dict)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)  # Patient/<id> -> body
    versions: dict[str, int] = field(default_factory=dict)  # Patient/<id> -> stored version
    enrol: list[str] = field(default_factory=list)  # Patient refs (or fullUrls) to enrol
    group: dict[str, Any] | None = None  # the stored roster Group, when enrolling
    group_version: int | None = None


def _incoming_patient(result: ParseResult) -> dict[str, Any] | None:
    if result.patient is None:
        return None
    for entry in result.entries:
        if entry.full_url == result.patient.reference:
            return entry.resource
    return None


def _claim(match: StoredPatient) -> str:
    ins = match.ins
    for values in ins.values():
        return sorted(values)[0]
    return match.reference


GroupLoader = Callable[[str], "tuple[dict[str, Any], int] | None"]


class Planner:
    def __init__(
        self, ctx: AccessContext, index: PatientIndex, group_loader: GroupLoader | None = None
    ) -> None:
        self.ctx = ctx
        self.index = index
        self._group_loader = group_loader
        self._group_loaded = False
        self.plan = Plan()

    def _load_group(self) -> dict[str, Any] | None:
        if not self._group_loaded:
            self._group_loaded = True
            loaded = (
                self._group_loader(self.ctx.group)
                if self._group_loader and self.ctx.group
                else None
            )
            if loaded is not None:
                self.plan.group, self.plan.group_version = loaded
        return self.plan.group

    def add(self, index: int, result: ParseResult) -> None:
        """Plan one result; a refusal leaves the plan as it was."""
        item = ItemPlan(result)
        changes: dict[str, tuple[StoredPatient, dict[str, Any]]] = {}
        roster: list[str] = []

        def body(p: StoredPatient) -> dict[str, Any]:
            if p.reference in changes:
                return changes[p.reference][1]
            return self.plan.updates.get(p.reference, p.body)

        def change(p: StoredPatient, new: dict[str, Any]) -> None:
            changes[p.reference] = (p, new)

        patient = result.patient
        if patient is not None:
            decision = identify(patient, self.index)
            if isinstance(decision, Conflict):
                self.plan.refused[index] = Refusal(
                    "conflict", decision.diagnostics, decision.details, decision.patient_id, "205"
                )
                return
            if isinstance(decision, Unknown):
                self.plan.refused[index] = Refusal("rejected", decision.diagnostics)
                return
            if isinstance(decision, Match):
                stored = decision.patient
                item.patient, item.claim = stored.reference, _claim(stored)
                incoming = _incoming_patient(result)
                if patient.update and incoming is not None:
                    change(stored, merged_patient(body(stored), incoming))
            else:
                item.patient, item.new_patient = patient.reference, True
                item.probable = decision.probable
                item.claim = next((k.value for k in patient.keys if k.is_ins), None)
            if patient.update and item.patient is not None:
                roster.append(item.patient)
        for merge in result.merges:
            pair = resolve_merge(merge, self.index)
            if isinstance(pair, Conflict):
                self.plan.refused[index] = Refusal("rejected", pair.diagnostics)
                return
            survivor, old = pair.surviving, pair.retired
            change(old, retired(body(old), survivor.id))
            change(survivor, linked(body(survivor), old.id, "replaces"))
            item.merge = True
        for ref, (stored, new) in changes.items():
            self.plan.versions.setdefault(ref, stored.version)
            before = self.plan.updates.get(ref, stored.body)
            if without_server_meta(new) != without_server_meta(before):
                self.plan.updates[ref] = without_server_meta(new)
                item.updates.append(ref)
        if roster and self.ctx.kind == "system" and self._load_group() is not None:
            group = self.plan.group or {}
            for ref in roster:
                if ref not in self.plan.enrol and not is_member(group, ref):
                    self.plan.enrol.append(ref)
        self.plan.items[index] = item

    def finish(self) -> Plan:
        if self.plan.group is not None and self.plan.enrol:
            self.plan.group = enrolled(self.plan.group, self.plan.enrol)
        else:
            self.plan.group = None
        return self.plan


def plan(
    results: dict[int, ParseResult],
    ctx: AccessContext,
    index: PatientIndex,
    group_loader: GroupLoader | None = None,
) -> Plan:
    planner = Planner(ctx, index, group_loader)
    for i, result in results.items():
        planner.add(i, result)
    return planner.finish()
