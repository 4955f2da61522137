"""Votes and the reducers that combine them (after HAPI FHIR's consent interceptor).

Each rule of the engine casts one :class:`Vote`:

- ``PROCEED``: the rule has nothing to say (abstains);
- ``REJECT``: the rule forbids the access;
- ``AUTHORIZED``: the rule positively allows the access.

Votes are combined by explicit, total reducers, tested against their full truth table:

- :func:`parallel` — every rule must agree: any ``REJECT`` wins, else any ``AUTHORIZED``,
  else ``PROCEED`` (HAPI ``ConsentOutcome.parallelReduce``);
- :func:`serial` — the first vote that is not ``PROCEED`` wins (HAPI ``serialReduce``);
- :func:`final_effect` — turns the reduced verdict into an effect, and only an explicit
  ``AUTHORIZED`` permits: an abstention is a deny (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from gateway.policy.reasons import Obligation, Reason


class Verdict(Enum):
    PROCEED = "proceed"
    REJECT = "reject"
    AUTHORIZED = "authorized"


class Effect(Enum):
    PERMIT = "permit"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Vote:
    """One rule's immutable opinion, with the reason an auditor will see."""

    verdict: Verdict
    reason: Reason
    obligations: tuple[Obligation, ...] = ()

    @property
    def rule(self) -> int:
        return self.reason.rule


def parallel(verdicts: Iterable[Verdict]) -> Verdict:
    """All voters must agree: REJECT beats AUTHORIZED beats PROCEED."""
    seen_authorized = False
    for verdict in verdicts:
        if verdict is Verdict.REJECT:
            return Verdict.REJECT
        if verdict is Verdict.AUTHORIZED:
            seen_authorized = True
    return Verdict.AUTHORIZED if seen_authorized else Verdict.PROCEED


def serial(verdicts: Iterable[Verdict]) -> Verdict:
    """The first voter with an opinion decides; PROCEED when nobody has one."""
    for verdict in verdicts:
        if verdict is not Verdict.PROCEED:
            return verdict
    return Verdict.PROCEED


def final_effect(verdict: Verdict) -> Effect:
    """Only an explicit authorisation permits; abstaining is denying (fail closed)."""
    return Effect.PERMIT if verdict is Verdict.AUTHORIZED else Effect.DENY


def first_reject(votes: Iterable[Vote]) -> Vote | None:
    """The earliest REJECT vote, which names the rule that decided a deny."""
    for vote in votes:
        if vote.verdict is Verdict.REJECT:
            return vote
    return None
