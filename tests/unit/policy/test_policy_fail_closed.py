"""Fail closed: a missing claim, an unknown label, missing or foreign facts -> deny."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.auth import demo
from gateway.policy import Action, PatientFacts, Policy, ResourceFacts

INS = demo.PATIENT_INS[0]
EVERYONE_IN = PatientFacts(
    patient_refs=frozenset({"Patient/p1", INS}),
    care_team_professionals=frozenset(a.subject for a in demo.ACTORS.values()),
    consented_professionals=frozenset(a.subject for a in demo.ACTORS.values()),
    designated_professionals=frozenset(a.subject for a in demo.ACTORS.values()),
    groups=frozenset({demo.EHPAD_GROUP}),
)
DOC = ResourceFacts(
    type="DocumentReference",
    id="d1",
    patient="Patient/p1",
    author=demo.PHYSICIAN.subject,
    author_structure=demo.EHPAD,
    document_class="11",
    labels=frozenset({"N"}),
)
CHAIN = ["physician", "pharmacist", "nurse", "idec", "regulator", "dentist", "patient", "ehpad"]
# The claims each kind cannot do without (gateway.policy.screen / rules).
REQUIRED = {
    "professional": ("subject", "profession", "patient"),
    "system": ("structure", "group"),
    "patient": ("subject",),
}


def _ctx(name: str, **changes: object):  # type: ignore[no-untyped-def]
    actor = demo.ACTORS[name]
    base = {"patient": INS} if actor.kind == "professional" else {}
    return actor.context(**{**base, **changes})


@pytest.mark.parametrize("name", CHAIN)
def test_baseline_is_permitted(policy: Policy, name: str) -> None:
    """The record below lets everybody in, so each deny that follows is the one cause."""
    assert policy.evaluate(_ctx(name), Action.READ, DOC, EVERYONE_IN).permitted, name


@pytest.mark.parametrize(
    ("name", "claim"),
    [(n, c) for n in CHAIN for c in REQUIRED[demo.ACTORS[n].kind]],
)
@pytest.mark.parametrize("action", list(Action))
def test_missing_claim_denies(policy: Policy, name: str, claim: str, action: Action) -> None:
    for empty in (None, ""):
        decision = policy.evaluate(_ctx(name, **{claim: empty}), action, DOC, EVERYONE_IN)
        assert not decision.permitted, (name, claim, empty)


@pytest.mark.parametrize("name", [*CHAIN, "admin", "auditor"])
@pytest.mark.parametrize(
    "label", ["http://x|MASQUE_PS", "|N", "urn:oid:1.2.250.1.213.1.1.4.13|UNKNOWN", "|"]
)
def test_unknown_label_denies_everyone(policy: Policy, name: str, label: str) -> None:
    for klass in ("11", "administrative", "audit", "consent"):
        resource = replace(DOC, document_class=klass, labels=DOC.labels | {label})
        for action in Action:
            assert not policy.evaluate(_ctx(name), action, resource, EVERYONE_IN).permitted


@pytest.mark.parametrize("name", CHAIN)
def test_missing_or_foreign_facts_deny(policy: Policy, name: str) -> None:
    ctx = _ctx(name)
    assert not policy.evaluate(ctx, Action.READ, DOC, None).permitted
    foreign = replace(EVERYONE_IN, patient_refs=frozenset({"Patient/p2"}))
    assert not policy.evaluate(ctx, Action.READ, DOC, foreign).permitted
    unresolved = replace(DOC, document_class=None)
    assert not policy.evaluate(ctx, Action.READ, unresolved, EVERYONE_IN).permitted


@pytest.mark.parametrize("name", [n for n in CHAIN if n != "patient"])
def test_unreadable_choices_deny_professionals(policy: Policy, name: str) -> None:
    facts = replace(EVERYONE_IN, unreadable=("Consent/c: unresolved actor",))
    assert not policy.evaluate(_ctx(name), Action.READ, DOC, facts).permitted
