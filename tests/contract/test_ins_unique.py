"""One Patient per INS (gateway/record/ins_unique.py), on both back-ends."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from gateway.errors import Conflict, GatewayError, ServiceUnavailable
from gateway.fhir.identifiers import INS_NIA, INS_NIR
from gateway.record.repository import Repository
from gateway.record.writer import RecordWriter

INS = "277076322082910"


def patient(rid: str | None = None, ins: str | None = INS, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": "Durand"}], **extra}
    if rid:
        body["id"] = rid
    if ins:
        body["identifier"] = [{"system": INS_NIR, "value": ins}]
    return body


def _write(w: RecordWriter, rid: str | None, body: dict[str, Any]) -> None:
    if rid is None:
        w.create(body)
    else:
        w.update("Patient", rid, body)


def test_a_second_patient_with_the_same_ins_is_a_conflict(repo: Repository) -> None:
    with repo.writing() as w:
        first = w.create(patient()).version.id
    nia = {**patient(ins=None), "identifier": [{"system": INS_NIA, "value": INS}]}
    for rid, body in ((None, patient()), ("other", patient("other")), (None, nia)):
        with pytest.raises(Conflict) as caught, repo.writing() as w:
            _write(w, rid, body)
        assert caught.value.code == "GW-3016"
        assert caught.value.expression == ("Patient.identifier",)
        assert first not in caught.value.diagnostics  # the other record is not named
    with repo.reading() as r:
        assert [v.id for v in r.match("Patient", [("identifier", INS)], limit=5)] == [first]


def test_the_same_patient_keeps_its_ins_and_merges_may_share_it(repo: Repository) -> None:
    with repo.writing() as w:
        first = w.create(patient()).version.id
    with repo.writing() as w:  # an update of the holder itself
        w.update("Patient", first, patient(first, gender="female"))
    with repo.writing() as w:  # a record linked to the holder (A40 merge)
        w.update(
            "Patient",
            "merged",
            patient(
                "merged", link=[{"other": {"reference": f"Patient/{first}"}, "type": "replaces"}]
            ),
        )
    with repo.writing() as w:  # once deleted, the INS is free again
        w.delete("Patient", first)
        w.delete("Patient", "merged")
    with repo.writing() as w:
        w.create(patient())


def test_two_patients_of_one_ins_in_one_transaction_are_a_conflict(repo: Repository) -> None:
    with pytest.raises(Conflict), repo.writing() as w:
        _two_creates(w)
    with repo.reading() as r:
        assert r.match("Patient", [("identifier", INS)], limit=5) == []  # all or nothing


def _two_creates(w: RecordWriter) -> None:
    w.create(patient())
    w.create(patient())


def test_concurrent_creates_with_one_ins_give_one_patient(repo: Repository) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        own = Repository(repo.ctx, repo.services)  # one unit of work per request/thread
        barrier.wait()
        try:
            with own.writing() as w:
                w.create(patient())
            outcomes.append("created")
        except ServiceUnavailable:  # a busy database under load: retry later, not a pass
            outcomes.append("busy")
        except GatewayError as e:
            outcomes.append(e.code)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("created") == 1, outcomes
    assert set(outcomes) <= {"created", "GW-3016", "busy"}, outcomes
    with repo.reading() as r:
        assert len(r.match("Patient", [("identifier", INS)], limit=5)) == 1
