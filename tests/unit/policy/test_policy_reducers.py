"""The vote reducers against their full truth tables (HAPI IConsentVoteTest style)."""

from __future__ import annotations

import itertools

import pytest

from gateway.policy.decision import decide
from gateway.policy.reasons import NO_AUTHORISATION, REASONS, Reason
from gateway.policy.vote import (
    Effect,
    Verdict,
    Vote,
    final_effect,
    first_reject,
    parallel,
    serial,
)

P, R, A = Verdict.PROCEED, Verdict.REJECT, Verdict.AUTHORIZED
ALL = (P, R, A)
SEQUENCES = [seq for n in range(4) for seq in itertools.product(ALL, repeat=n)]


def _expected_parallel(seq: tuple[Verdict, ...]) -> Verdict:
    if R in seq:
        return R
    return A if A in seq else P


def _expected_serial(seq: tuple[Verdict, ...]) -> Verdict:
    return next((v for v in seq if v is not P), P)


@pytest.mark.parametrize("seq", SEQUENCES, ids=lambda s: "-".join(v.name[0] for v in s) or "∅")
def test_parallel_truth_table(seq: tuple[Verdict, ...]) -> None:
    assert parallel(seq) is _expected_parallel(seq)


@pytest.mark.parametrize("seq", SEQUENCES, ids=lambda s: "-".join(v.name[0] for v in s) or "∅")
def test_serial_truth_table(seq: tuple[Verdict, ...]) -> None:
    assert serial(seq) is _expected_serial(seq)


def test_pairwise_tables_are_exactly_these() -> None:
    parallel_table = {(a, b): parallel((a, b)) for a, b in itertools.product(ALL, repeat=2)}
    assert parallel_table == {
        (P, P): P, (P, R): R, (P, A): A,
        (R, P): R, (R, R): R, (R, A): R,
        (A, P): A, (A, R): R, (A, A): A,
    }  # fmt: skip
    serial_table = {(a, b): serial((a, b)) for a, b in itertools.product(ALL, repeat=2)}
    assert serial_table == {
        (P, P): P, (P, R): R, (P, A): A,
        (R, P): R, (R, R): R, (R, A): R,
        (A, P): A, (A, R): A, (A, A): A,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("verdict", "effect"), [(P, Effect.DENY), (R, Effect.DENY), (A, Effect.PERMIT)]
)
def test_only_authorized_permits(verdict: Verdict, effect: Effect) -> None:
    assert final_effect(verdict) is effect


def _reasons(n: int) -> list[Reason]:
    return [Reason(f"r{i}", i, f"reason {i}") for i in range(n)]


@pytest.mark.parametrize("seq", SEQUENCES, ids=lambda s: "-".join(v.name[0] for v in s) or "∅")
def test_decide_first_deny_wins_and_default_deny(seq: tuple[Verdict, ...]) -> None:
    votes = [Vote(v, reason) for v, reason in zip(seq, _reasons(len(seq)), strict=True)]
    decision = decide(votes)
    if R in seq:
        assert not decision.permitted
        assert decision.reason.code == f"r{seq.index(R)}"
        assert first_reject(votes) is votes[seq.index(R)]
    elif A in seq:
        assert decision.permitted
        assert decision.reason.code == f"r{seq.index(A)}"
    else:
        assert not decision.permitted
        assert decision.reason is NO_AUTHORISATION
    assert [v.reason.code for v in decision.trail] == [f"r{i}" for i in range(len(seq))]
    reduced = final_effect(parallel(seq)) if first_reject(votes) is None else Effect.DENY
    assert decision.effect is reduced  # decide() is the reducers, in one pass


def test_obligations_only_on_permit_and_deduplicated() -> None:
    alert = REASONS["btg-granted"]
    from gateway.policy.reasons import NOTIFY_PATIENT, SECURITY_ALERT

    votes = [
        Vote(A, alert, (SECURITY_ALERT, NOTIFY_PATIENT)),
        Vote(P, REASONS["not-blocked"], (SECURITY_ALERT,)),
    ]
    assert decide(votes).obligations == (SECURITY_ALERT, NOTIFY_PATIENT)
    assert decide([*votes, Vote(R, REASONS["masked"])]).obligations == ()


def test_reason_codes_are_unique_and_rules_in_range() -> None:
    assert len({r.code for r in REASONS.values()}) == len(REASONS)
    assert all(0 <= r.rule <= 8 and r.text for r in REASONS.values())


def test_explain_is_json_ready() -> None:
    decision = decide([Vote(A, REASONS["care-team"])])
    assert decision.explain() == {
        "effect": "permit",
        "rule": 4,
        "code": "care-team",
        "text": REASONS["care-team"].text,
        "obligations": [],
        "trail": [{"rule": 4, "verdict": "authorized", "code": "care-team"}],
    }
