"""The decision memo answers what the engine answers.

The memo shares a decision between resources with the same :func:`decisive_key`. That is
sound only if no rule reads a field the key leaves out: the property below draws callers,
actions, patient facts and pairs of resources that differ only in those fields (the id,
the creation and announcement instants), and requires the engine to decide both alike.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.access.context import AccessContext
from gateway.auth import demo
from gateway.policy import Action, PatientFacts, Policy, ResourceFacts
from gateway.policy.facts import ConsentSummary
from gateway.policy.labels import INVISIBLE_PATIENT
from gateway.policy.memo import DecisionMemo, decisive_key

INS = demo.PATIENT_INS[0]
P = "Patient/p1"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BTG = {"purpose_of_use": "bris_de_glace", "justification": "unconscious"}

CALLERS: list[AccessContext] = [
    demo.PHYSICIAN.context(patient=INS),
    demo.PHYSICIAN.context(patient=INS, **BTG),
    demo.NURSE.context(patient=INS),
    demo.PHARMACIST.context(patient=INS),
    demo.REGULATOR.context(patient=INS, purpose_of_use="centre_15"),
    demo.PATIENT.context(patient=INS),
    demo.PATIENT.context(subject=demo.PATIENT_INS[1], patient=INS),
    demo.EHPAD_SYSTEM.context(),
    demo.EHPAD_SYSTEM.context(group="other-group"),
    demo.AUDITOR.context(),
    demo.ADMIN.context(),
]
TEAM = frozenset({demo.PHYSICIAN.subject, demo.NURSE.subject, demo.PHARMACIST.subject})
FACTS = [
    None,
    PatientFacts(
        patient_refs=frozenset({P, INS}),
        care_team_professionals=TEAM,
        groups=frozenset({demo.EHPAD_GROUP}),
        legal_representatives=frozenset({demo.PATIENT_INS[1]}),
    ),
    PatientFacts(patient_refs=frozenset({P, INS}), general_opposition=True),
    PatientFacts(
        patient_refs=frozenset({P, INS}), btg_opposition=True, care_team_professionals=TEAM
    ),
]
AUTHORS = [None, demo.PHYSICIAN.subject, demo.NURSE.subject, INS]
LABELS = [
    frozenset(),
    frozenset({"N"}),
    frozenset({"N", "MASQUE_PS"}),
    frozenset({"N", INVISIBLE_PATIENT}),
    frozenset({"R", "INVISIBLE_REPRESENTANTS_LEGAUX"}),
    frozenset({"N", "http://example.org|SECRET"}),
]
SHAPES = [
    ("DocumentReference", "10", "11488-4"),
    ("DocumentReference", "11", "60591-5"),
    ("Observation", "11", None),
    ("MedicationDispense", "11", None),
    ("Patient", "administrative", None),
    ("Group", "roster", None),
    ("Practitioner", "administrative", None),
    ("AuditEvent", "audit", None),
    ("Claim", "excluded", None),
    ("DocumentReference", None, None),
]
IDS = ["d1", "d2", demo.EHPAD_GROUP, "other-group"]
INSTANTS = [None, NOW - timedelta(days=400), NOW - timedelta(days=3), NOW + timedelta(days=1)]


@st.composite
def resources(draw: st.DrawFn) -> ResourceFacts:
    rtype, klass, doc_type = draw(st.sampled_from(SHAPES))
    return ResourceFacts(
        type=rtype,
        id=draw(st.sampled_from(IDS)),
        patient=draw(st.sampled_from([P, "Patient/p2", None])),
        author=draw(st.sampled_from(AUTHORS)),
        author_structure=draw(st.sampled_from([None, demo.HOSPITAL, demo.EHPAD])),
        labels=draw(st.sampled_from(LABELS)),
        document_class=klass,
        document_type=doc_type,
        created_at=draw(st.sampled_from(INSTANTS)),
        announced_at=draw(st.sampled_from(INSTANTS)),
    )


# Every value each field is drawn from, for the one-field-at-a-time variations below.
VARIATIONS: dict[str, list[Any]] = {
    "id": list(IDS),
    "patient": [P, "Patient/p2", None],
    "author": list(AUTHORS),
    "author_structure": [None, demo.HOSPITAL, demo.EHPAD],
    "labels": list(LABELS),
    "created_at": list(INSTANTS),
    "announced_at": list(INSTANTS),
}


@settings(max_examples=600, deadline=None)
@given(
    ctx=st.sampled_from(CALLERS),
    action=st.sampled_from([Action.READ, Action.SEARCH_MATCH]),
    base=resources(),
    facts=st.sampled_from(FACTS),
)
@example(  # the patient's own document, hidden from them for a month after its creation
    ctx=CALLERS[5],
    action=Action.READ,
    base=ResourceFacts(
        type="DocumentReference",
        id="d1",
        patient=P,
        author=demo.PHYSICIAN.subject,
        labels=frozenset({"N", INVISIBLE_PATIENT}),
        document_class="10",
        document_type="11488-4",
        created_at=NOW - timedelta(days=3),
    ),
    facts=FACTS[1],
)
def test_resources_with_one_key_get_one_decision(
    policy: Policy,
    ctx: AccessContext,
    action: Action,
    base: ResourceFacts,
    facts: PatientFacts | None,
) -> None:
    """Vary one field of ``base`` at a time over all its values (the type and class
    together): wherever two variants share a key, the engine decides them alike."""
    variants = [
        replace(base, **{name: value}) for name, values in VARIATIONS.items() for value in values
    ]
    variants += [
        replace(base, type=rtype, document_class=klass, document_type=doc_type)
        for rtype, klass, doc_type in SHAPES
    ]
    by_key: dict[object, tuple[ResourceFacts, object]] = {}
    for variant in variants:
        key = decisive_key(ctx, action, variant)
        if key is None:
            continue
        decision = policy.evaluate(ctx, action, variant, facts, now=NOW)
        outcome = (decision.effect, decision.reason, decision.obligations)
        seen = by_key.setdefault(key, (variant, outcome))
        assert seen[1] == outcome, f"{seen[0]} and {variant} share a key, not a decision"


def test_the_memo_returns_the_engine_decision_and_reuses_it(policy: Policy) -> None:
    ctx = demo.PHYSICIAN.context(patient=INS)
    facts = FACTS[1]
    memo = DecisionMemo(policy, ctx)
    doc = ResourceFacts(
        type="DocumentReference", id="d1", patient=P, author=demo.PHYSICIAN.subject,
        labels=frozenset({"N"}), document_class="10", document_type="11488-4",
    )  # fmt: skip
    first = memo.evaluate(Action.READ, doc, facts, now=NOW)
    assert first == policy.evaluate(ctx, Action.READ, doc, facts, now=NOW)
    assert first.permitted
    # Another id, same decisive facts: the same decision object.
    assert memo.evaluate(Action.READ, replace(doc, id="d2"), facts, now=NOW) is first
    # Other patient facts (reloaded after a write in the unit): judged again.
    opposed = replace(facts, general_opposition=True) if facts is not None else None
    again = memo.evaluate(Action.READ, replace(doc, id="d3"), opposed, now=NOW)
    assert not again.permitted


def test_consents_and_invisible_documents_are_judged_alone() -> None:
    ctx = demo.PATIENT.context(patient=INS)
    invisible = ResourceFacts(type="DocumentReference", labels=frozenset({INVISIBLE_PATIENT}))
    consent = ResourceFacts(
        type="Consent", consent=ConsentSummary(frozenset({"access-grant"}), frozenset())
    )
    assert decisive_key(ctx, Action.READ, invisible) is None
    assert decisive_key(ctx, Action.READ, consent) is None
    # A system bound to a group is told ids apart (the roster screen compares them).
    system = demo.EHPAD_SYSTEM.context()
    group = ResourceFacts(type="Group", id="a", document_class="roster")
    assert decisive_key(system, Action.READ, group) != decisive_key(
        system, Action.READ, replace(group, id="b")
    )
