"""The policy engine: ``evaluate(context, action, resource, facts) -> Decision``.

Pure and total: no I/O, no clock (pass ``now``), no exception for any input. Rule 0
(:mod:`gateway.policy.screen`) settles the callers and data the patient's choices do not
govern; rules 1-7 (:mod:`gateway.policy.rules`) run in the order of DOMAIN.md §3 and the
first deny wins; only an explicit authorisation permits (rule 8 is the deny-all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.access.context import AccessContext
from gateway.policy.case import Case
from gateway.policy.decision import Decision, decide
from gateway.policy.facts import Action, PatientFacts, ResourceFacts
from gateway.policy.matrix import AccessMatrix
from gateway.policy.options import PolicyOptions
from gateway.policy.rules import CHAIN
from gateway.policy.screen import screen
from gateway.policy.vote import Verdict, Vote


@dataclass(frozen=True, slots=True)
class Policy:
    """The loaded, immutable configuration of the engine."""

    matrix: AccessMatrix
    options: PolicyOptions = field(default_factory=PolicyOptions)

    def evaluate(
        self,
        context: AccessContext,
        action: Action,
        resource: ResourceFacts,
        facts: PatientFacts | None,
        *,
        now: datetime | None = None,
    ) -> Decision:
        return evaluate(context, action, resource, facts, policy=self, now=now)


def evaluate(
    context: AccessContext,
    action: Action,
    resource: ResourceFacts,
    facts: PatientFacts | None,
    *,
    policy: Policy,
    now: datetime | None = None,
) -> Decision:
    """Decide whether ``context`` may perform ``action`` on ``resource``.

    ``facts`` are the choices of the patient the resource belongs to (None for resources
    in no patient compartment). ``now`` (aware) lifts ``INVISIBLE_PATIENT`` after its
    delay; without it only an announcement lifts the label.
    """
    case = Case(context, action, resource, facts, policy.matrix, policy.options, now)
    decisive = screen(case)
    if decisive is not None:
        return decide([decisive])
    votes: list[Vote] = []
    for rule in CHAIN:
        vote = rule(case)
        votes.append(vote)
        if vote.verdict is Verdict.REJECT:
            break
    return decide(votes)
