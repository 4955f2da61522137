"""A write to a resource hidden from the caller answers as a write to an id that does not
exist whenever that answer is a refusal, on both back-ends: the answer must not tell
whether a hidden resource exists (README: a resource the caller may not see answers 404;
a refused write is 403)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.access.context import AccessContext
from gateway.auth import demo
from gateway.cli.demo import load_demo_record
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.policy import Action
from gateway.record.repository import Repository
from gateway.record.services import RecordServices

ALICE, BRUNO, CHLOE, GASTON = demo.PATIENT_INS


def _patient(rid: str, ins: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": rid,
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": ins}],
        "name": [{"family": "Essai"}],
    }


def _observation(rid: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {
            "value": 72,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def _answer(
    repo: Repository, rtype: str, rid: str, body: dict[str, Any], if_match: int | None
) -> tuple[Any, ...]:
    try:
        with repo.writing() as w:
            w.update(rtype, rid, body, if_match=if_match)
    except GatewayError as exc:
        return (
            exc.status,
            exc.code,
            [(i.code, i.diagnostics.replace(rid, "<id>")) for i in exc.issues],
        )
    return ("written",)


CASES = [
    # (caller, type, hidden id, body for an id)
    (demo.DENTIST.context(patient=BRUNO), "Patient", "bruno", lambda r: _patient(r, BRUNO)),
    (demo.DENTIST.context(patient=ALICE), "Patient", "bruno", lambda r: _patient(r, ALICE)),
    (
        demo.DENTIST.context(patient=GASTON),
        "Observation",
        "bp-gaston-1",
        lambda r: _observation(r, "gaston"),
    ),
    (
        demo.PHYSICIAN.context(patient=BRUNO),
        "Observation",
        "bp-gaston-1",
        lambda r: _observation(r, "bruno"),
    ),
]


@pytest.mark.parametrize(("ctx", "rtype", "hidden", "body"), CASES)
@pytest.mark.parametrize("if_match", [None, 1])
def test_hidden_and_new_ids_answer_alike(
    settings: Settings,
    services: RecordServices,
    ctx: AccessContext,
    rtype: str,
    hidden: str,
    body: Any,
    if_match: int | None,
) -> None:
    load_demo_record(settings)
    repo = Repository(ctx, services)
    with repo.reading() as r:
        current = r.tx.current(rtype, hidden)
        assert current is not None and not r.visible(current, Action.READ), "hidden"
    hidden_answer = _answer(repo, rtype, hidden, body(hidden), if_match)
    new_answer = _answer(repo, rtype, "nobody-x", body("nobody-x"), if_match)
    assert hidden_answer == new_answer
    assert hidden_answer[0] == (412 if if_match else 403)


def test_a_body_the_caller_could_create_still_cannot_take_a_hidden_id(
    settings: Settings, services: RecordServices
) -> None:
    load_demo_record(settings)
    repo = Repository(demo.PHYSICIAN.context(patient=ALICE), services)
    answer = _answer(repo, "Observation", "bp-gaston-1", _observation("bp-gaston-1", "alice"), None)
    assert answer[:2] == (404, "GW-3004")
    with Repository(AccessContext.dev_open(), services).reading() as r:
        kept = r.tx.current("Observation", "bp-gaston-1")
    assert kept is not None and kept.version == 1
