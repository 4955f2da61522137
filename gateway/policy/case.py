"""One evaluation's inputs, bundled, with the derived facts every rule shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.access.context import AccessContext
from gateway.policy.facts import Action, PatientFacts, ResourceFacts
from gateway.policy.labels import INVISIBLE_PATIENT, add_months
from gateway.policy.matrix import SYSTEM_ROW, AccessMatrix, Cell
from gateway.policy.options import PolicyOptions
from gateway.policy.reasons import Obligation, Reason
from gateway.policy.vote import Verdict, Vote

EMERGENCY_MODES = frozenset({"bris_de_glace", "centre_15"})


# Votes are immutable: the common ones (no obligation) are made once, not per decision,
# since a search evaluates every candidate resource.
_VOTES: dict[tuple[Verdict, str], Vote] = {}


def _vote(verdict: Verdict, reason: Reason, obligations: tuple[Obligation, ...]) -> Vote:
    if obligations:
        return Vote(verdict, reason, obligations)
    key = (verdict, reason.code)
    vote = _VOTES.get(key)
    if vote is None or vote.reason is not reason:
        vote = _VOTES[key] = Vote(verdict, reason)
    return vote


def proceed(reason: Reason, *obligations: Obligation) -> Vote:
    return _vote(Verdict.PROCEED, reason, obligations)


def reject(reason: Reason) -> Vote:
    return _vote(Verdict.REJECT, reason, ())


def authorize(reason: Reason, *obligations: Obligation) -> Vote:
    return _vote(Verdict.AUTHORIZED, reason, obligations)


@dataclass(slots=True)
class Case:
    """Internal to one evaluation (never shared), hence a plain, fast-to-build object."""

    ctx: AccessContext
    action: Action
    resource: ResourceFacts
    facts: PatientFacts | None
    matrix: AccessMatrix
    options: PolicyOptions
    now: datetime | None
    kind: str = field(init=False)
    klass: str = field(init=False)
    emergency: bool = field(init=False)

    def __post_init__(self) -> None:
        self.kind = self.ctx.kind
        self.klass = self.resource.document_class or ""
        self.emergency = self.ctx.purpose_of_use in EMERGENCY_MODES

    @property
    def is_author(self) -> bool:
        """Whether the caller created the resource (professional or patient by their id,
        a system by its structure)."""
        if self.kind == "system":
            owner, me = self.resource.author_structure, self.ctx.structure
        else:
            owner, me = self.resource.author, self.ctx.subject
        return owner is not None and owner == me

    @property
    def is_self(self) -> bool:
        """A patient caller acting on their own record (not as a representative)."""
        return (
            self.kind == "patient"
            and self.facts is not None
            and self.ctx.subject is not None
            and self.ctx.subject in self.facts.patient_refs
        )

    @property
    def matrix_row(self) -> str | None:
        return SYSTEM_ROW if self.kind == "system" else self.ctx.profession

    def cell(self, klass: str) -> Cell | None:
        role = None if self.kind == "system" else self.ctx.role
        specialty = None if self.kind == "system" else self.ctx.specialty
        return self.matrix.cell(self.matrix_row, klass, specialty=specialty, role=role)

    def invisible_to_patient(self) -> bool:
        """INVISIBLE_PATIENT still in force: not announced, and not yet a month old."""
        resource = self.resource
        if INVISIBLE_PATIENT not in resource.labels:
            return False
        if resource.announced_at is not None and (
            self.now is None or resource.announced_at <= self.now
        ):
            return False
        if resource.created_at is not None and self.now is not None:
            lift = add_months(resource.created_at, self.options.invisible_patient_lift_months)
            if self.now >= lift:
                return False
        return True
