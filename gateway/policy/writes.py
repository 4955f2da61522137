"""Write rules that compare two versions of a resource (rule 6 labels, rule 7 writes).

- :func:`label_update` — labels are a set: a write never drops a label the caller may not
  remove (it is kept), never adds one the caller may not add (the write is refused), and
  the cumul rule holds on the result (CSP R1111-53, DOMAIN.md §3.6).
- :func:`subject_unchanged` — nobody moves a resource to another patient.
- :func:`check_create` / :func:`check_update` — the full decision for a write: the engine
  on the stored and the new version, then the two rules above.

Who may add / remove each label (choices; the sources give none):

============================== ========================= ===========================
label                          may add                   may remove
============================== ========================= ===========================
MASQUE_PS                      author, patient, repr.    patient (self)
INVISIBLE_PATIENT              author (professional,     author (after the announce-
                               system)                   ment consultation)
INVISIBLE_REPRESENTANTS_LEGAUX author, patient, repr.    patient (self)
N / R / V (one at most)        raise: author, patient,   lower: patient (self)
                               repr.
unknown ``system|code``        nobody                    nobody
============================== ========================= ===========================

The automatic lifting of INVISIBLE_PATIENT after a month is done by the gateway's own
scheduled job, which is not a caller and does not go through these rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from gateway.access.context import AccessContext
from gateway.policy import reasons as r
from gateway.policy.decision import Decision, decide
from gateway.policy.engine import Policy
from gateway.policy.facts import Action, PatientFacts, ResourceFacts
from gateway.policy.labels import (
    CONFIDENTIALITY_RANK,
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    KNOWN_LABELS,
    MASQUE_PS,
    confidentiality_of,
)
from gateway.policy.options import PolicyOptions
from gateway.policy.vote import Verdict, Vote


@dataclass(frozen=True, slots=True)
class LabelChange:
    """The labels to store, those kept against the caller's wish, and the decision."""

    labels: frozenset[str]
    kept: frozenset[str]
    decision: Decision


def _author(ctx: AccessContext, resource: ResourceFacts) -> bool:
    if ctx.kind == "system":
        return resource.author_structure is not None and resource.author_structure == (
            ctx.structure
        )
    return resource.author is not None and resource.author == ctx.subject


def _patient_role(ctx: AccessContext, facts: PatientFacts | None) -> str | None:
    """ "self", "representative" or None for a patient caller on this record."""
    if ctx.kind != "patient" or facts is None or ctx.subject is None:
        return None
    if ctx.subject in facts.patient_refs:
        return "self"
    return "representative" if ctx.subject in facts.legal_representatives else None


def _may_add(label: str, *, author: bool, role: str | None, kind: str) -> bool:
    if kind == "dev":
        return True
    if label == INVISIBLE_PATIENT:
        return author and kind in ("professional", "system")
    if label in (MASQUE_PS, INVISIBLE_REPRESENTANTS_LEGAUX) or label in CONFIDENTIALITY_RANK:
        return author or role is not None
    return False


def _may_remove(label: str, *, author: bool, role: str | None, kind: str) -> bool:
    if kind == "dev":
        return True
    if label == INVISIBLE_PATIENT:
        return author and kind in ("professional", "system")
    if label in (MASQUE_PS, INVISIBLE_REPRESENTANTS_LEGAUX) or label in CONFIDENTIALITY_RANK:
        return role == "self"
    return False


def label_update(
    ctx: AccessContext,
    old: ResourceFacts | None,
    new_labels: frozenset[str],
    facts: PatientFacts | None,
    *,
    options: PolicyOptions,
) -> LabelChange:
    """The label set a write from ``ctx`` results in (``old`` is None on create)."""
    old_labels = old.labels if old is not None else frozenset()
    author = old is None or _author(ctx, old)
    role, kind = _patient_role(ctx, facts), ctx.kind

    def deny(reason: r.Reason) -> LabelChange:
        return LabelChange(old_labels, frozenset(), decide([Vote(Verdict.REJECT, reason)]))

    if any(label not in KNOWN_LABELS for label in new_labels - old_labels):
        return deny(r.LABEL_UNKNOWN)
    if len(confidentiality_of(new_labels)) > 1:
        return deny(r.LABEL_CONFLICT)
    old_conf, new_conf = confidentiality_of(old_labels), confidentiality_of(new_labels)
    old_rank = CONFIDENTIALITY_RANK[old_conf[0]] if old_conf else 0
    new_rank = CONFIDENTIALITY_RANK[new_conf[0]] if new_conf else 0
    visibility_added = {x for x in new_labels - old_labels if x not in CONFIDENTIALITY_RANK}
    if new_rank > old_rank:
        visibility_added.add(new_conf[0])
    if any(not _may_add(x, author=author, role=role, kind=kind) for x in visibility_added):
        return deny(r.LABEL_ADD_REFUSED)
    kept = {
        x
        for x in old_labels - new_labels
        if x not in CONFIDENTIALITY_RANK and not _may_remove(x, author=author, role=role, kind=kind)
    }
    labels = set(new_labels) | kept
    if new_rank < old_rank and not _may_remove(old_conf[0], author=author, role=role, kind=kind):
        labels -= set(CONFIDENTIALITY_RANK)
        labels.add(old_conf[0])
        kept.add(old_conf[0])
    if (
        MASQUE_PS in labels
        and INVISIBLE_PATIENT in labels
        and not (options.allow_masked_and_invisible)
    ):
        return deny(r.CUMUL_REFUSED)
    ok = decide([Vote(Verdict.AUTHORIZED, r.LABELS_OK)])
    return LabelChange(frozenset(labels), frozenset(kept), ok)


def subject_unchanged(old: ResourceFacts, new: ResourceFacts) -> Vote:
    """Rule 7: an update keeps the resource's type, id and patient."""
    if old.type != new.type or old.id != new.id:
        return Vote(Verdict.REJECT, r.IDENTITY_CHANGE)
    if old.patient != new.patient:
        return Vote(Verdict.REJECT, r.SUBJECT_CHANGE)
    return Vote(Verdict.PROCEED, r.WRITE_RULES_OK)


def check_create(
    ctx: AccessContext,
    new: ResourceFacts,
    facts: PatientFacts | None,
    *,
    policy: Policy,
    now: datetime | None = None,
) -> LabelChange:
    """A create: the engine, then the label rules; ``labels`` is what to store."""
    decision = policy.evaluate(ctx, Action.CREATE, new, facts, now=now)
    if not decision.permitted:
        return LabelChange(new.labels, frozenset(), decision)
    change = label_update(ctx, None, new.labels, facts, options=policy.options)
    return change if not change.decision.permitted else replace(change, decision=decision)


def check_update(
    ctx: AccessContext,
    old: ResourceFacts,
    new: ResourceFacts,
    facts: PatientFacts | None,
    *,
    policy: Policy,
    labels_only: bool = False,
    now: datetime | None = None,
) -> LabelChange:
    """An update; ``labels_only`` when the caller knows only ``meta.security`` changed
    (``$meta-add`` / ``$meta-delete``): it is then judged as ``UPDATE_LABELS``, which a
    patient may do on what they can see.

    ``new.author`` / ``author_structure`` / ``created_at`` / ``announced_at`` are taken
    from ``old``: they are the gateway's records, not the client's.
    """
    new = replace(
        new,
        author=old.author,
        author_structure=old.author_structure,
        created_at=old.created_at,
        announced_at=old.announced_at,
    )
    same = subject_unchanged(old, new)
    if same.verdict is Verdict.REJECT:
        return LabelChange(old.labels, frozenset(), decide([same]))
    action = Action.UPDATE_LABELS if labels_only else Action.UPDATE
    before = policy.evaluate(ctx, action, old, facts, now=now)
    if not before.permitted:
        return LabelChange(old.labels, frozenset(), before)
    change = label_update(ctx, old, new.labels, facts, options=policy.options)
    if not change.decision.permitted:
        return change
    after = policy.evaluate(ctx, action, replace(new, labels=change.labels), facts, now=now)
    if not after.permitted:
        return LabelChange(old.labels, frozenset(), after)
    return replace(change, decision=before)
