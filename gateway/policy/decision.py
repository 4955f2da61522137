"""The engine's answer: an immutable :class:`Decision` that can explain itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.policy.reasons import NO_AUTHORISATION, Obligation, Reason
from gateway.policy.vote import Effect, Verdict, Vote


@dataclass(frozen=True, slots=True)
class Decision:
    """``effect`` with the ``reason`` (rule and stable code) that decided it, the
    ``obligations`` the caller must fulfil on a permit, and the ``trail`` of votes cast
    (in rule order) for ``/access/explain``."""

    effect: Effect
    reason: Reason
    obligations: tuple[Obligation, ...] = ()
    trail: tuple[Vote, ...] = ()

    @property
    def permitted(self) -> bool:
        return self.effect is Effect.PERMIT

    def explain(self) -> dict[str, Any]:
        """A JSON-ready account of the decision (no data from the request in it)."""
        return {
            "effect": self.effect.value,
            "rule": self.reason.rule,
            "code": self.reason.code,
            "text": self.reason.text,
            "obligations": [o.code for o in self.obligations],
            "trail": [
                {"rule": v.rule, "verdict": v.verdict.value, "code": v.reason.code}
                for v in self.trail
            ],
        }


def decide(votes: Sequence[Vote]) -> Decision:
    """Combine votes cast in rule order: the first REJECT decides a deny; otherwise the
    votes must reduce to AUTHORIZED (``final_effect(parallel(...))``, in one pass here as
    a search evaluates every candidate); abstention ends in the explicit deny-all
    (rule 8). ``tests/unit/policy/test_policy_reducers.py`` checks the equivalence."""
    trail = tuple(votes)
    authorising: Vote | None = None
    has_obligations = False
    for vote in trail:
        if vote.verdict is Verdict.REJECT:
            return Decision(Effect.DENY, vote.reason, (), trail)
        if authorising is None and vote.verdict is Verdict.AUTHORIZED:
            authorising = vote
        has_obligations = has_obligations or bool(vote.obligations)
    if authorising is None:
        return Decision(Effect.DENY, NO_AUTHORISATION, (), trail)
    obligations: list[Obligation] = []
    if has_obligations:
        for vote in trail:
            obligations.extend(o for o in vote.obligations if o not in obligations)
    return Decision(Effect.PERMIT, authorising.reason, tuple(obligations), trail)
