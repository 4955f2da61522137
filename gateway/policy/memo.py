"""Decisions shared by resources that differ only in facts no rule reads.

A search judges every candidate, and the candidates of one page are mostly alike: the same
patient, type, class, author and labels, a different id. For one caller (one unit of work),
the engine's answer is a function of the action, the patient's facts and these fields of
:class:`ResourceFacts`:

- ``type``, ``patient``, ``author``, ``author_structure``, ``labels``, ``document_class``,
  ``document_type`` (read by the rules and the screen);
- ``id``, for a system caller bound to a Group only (the roster screen compares it with the
  token's group);
- ``created_at`` / ``announced_at`` (and the clock), only while ``INVISIBLE_PATIENT`` is on
  the resource;
- ``consent``, which the memo never shares (a Consent is judged on its own).

:func:`decisive_key` names exactly these; a rule that starts reading another field must
add it there (``tests/policy/test_memo.py`` compares the memo with the engine on every
combination of the fields it varies).
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime

from gateway.access.context import AccessContext
from gateway.policy.decision import Decision
from gateway.policy.engine import Policy
from gateway.policy.facts import Action, PatientFacts, ResourceFacts
from gateway.policy.labels import INVISIBLE_PATIENT

MAX_ENTRIES = 1024  # distinct keys per unit of work, then the memo starts over


def decisive_key(
    ctx: AccessContext, action: Action, resource: ResourceFacts
) -> tuple[Hashable, ...] | None:
    """The facts that decide for ``ctx``, or None when the resource must be judged alone."""
    if resource.consent is not None or INVISIBLE_PATIENT in resource.labels:
        return None
    return (
        action,
        resource.type,
        resource.id if ctx.group is not None else None,
        resource.patient,
        resource.author,
        resource.author_structure,
        resource.labels,
        resource.document_class,
        resource.document_type,
    )


class DecisionMemo:
    """The decisions of one caller's unit of work (never shared between callers)."""

    __slots__ = ("_ctx", "_policy", "_seen")

    def __init__(self, policy: Policy, ctx: AccessContext) -> None:
        self._policy = policy
        self._ctx = ctx
        # key -> (the patient's facts the decision was made on, the decision)
        self._seen: dict[tuple[Hashable, ...], tuple[PatientFacts | None, Decision]] = {}

    def evaluate(
        self,
        action: Action,
        resource: ResourceFacts,
        facts: PatientFacts | None,
        *,
        now: datetime | None = None,
    ) -> Decision:
        key = decisive_key(self._ctx, action, resource)
        if key is not None:
            seen = self._seen.get(key)
            # The same facts object: a unit reloads a patient's facts after a write.
            if seen is not None and seen[0] is facts:
                return seen[1]
        decision = self._policy.evaluate(self._ctx, action, resource, facts, now=now)
        if key is not None:
            if len(self._seen) >= MAX_ENTRIES:
                self._seen.clear()
            self._seen[key] = (facts, decision)
        return decision
