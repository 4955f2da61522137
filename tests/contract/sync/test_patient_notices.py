"""Patient notices: emergency accesses (the notify-patient obligation) and documents
announced after the delay, queued on the bus and handed to the sender once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from gateway.auth import demo
from gateway.config import Settings
from gateway.errors import NotFound
from gateway.events.memory import MemoryBus
from gateway.events.model import PatientNotice
from gateway.policy.labels import TRE_A07
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.sync.runtime import SyncRuntime
from gateway.sync.signing import NotificationSigner
from gateway.sync.worker import Worker
from tests.contract.sync.conftest import load_two_ehpads
from tests.sync_support import FakeClock, sync_runtime

DAY = 86_400.0


class ListSender:
    def __init__(self) -> None:
        self.sent: list[PatientNotice] = []

    def send(self, notice: PatientNotice) -> None:
        self.sent.append(notice)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(
    services: RecordServices, settings: Settings, clock: FakeClock
) -> Iterator[SyncRuntime]:
    made = sync_runtime(services, settings, MemoryBus(), clock=clock)
    yield made
    made.close()


@pytest.fixture
def sender() -> ListSender:
    return ListSender()


@pytest.fixture
def worker(runtime: SyncRuntime, sender: ListSender) -> Iterator[Worker]:
    made = Worker(runtime, holder="w", signer=NotificationSigner.generate(), sender=sender)
    yield made
    made.close()


def test_an_emergency_read_notifies_the_patient_once(
    runtime: SyncRuntime, worker: Worker, sender: ListSender
) -> None:
    load_two_ehpads(runtime)
    emergency = demo.PHYSICIAN.context(
        patient="Patient/alice",
        purpose_of_use="bris_de_glace",
        justification="unconscious at admission",
        jti="token-1",
    )
    with Repository(emergency, runtime.services).reading() as r:
        r.read("Patient", "alice")
        r.read("Patient", "alice")
    with Repository(replace(emergency, jti="token-2"), runtime.services).reading() as r:
        r.read("Patient", "alice")
    normal = demo.PHYSICIAN.context(patient="Patient/alice", jti="token-3")
    with Repository(normal, runtime.services).reading() as r, pytest.raises(NotFound):
        r.read("Patient", "alice")  # no care relationship: refused, and no notice
    worker.drain()
    assert [(n.kind, n.patient, n.reason) for n in sender.sent] == [
        ("emergency-access", "alice", "btg-granted"),
        ("emergency-access", "alice", "btg-granted"),
    ], "one notice per token and patient"
    actor = sender.sent[0].actor
    assert actor["subject"] == demo.PHYSICIAN.subject and actor["purpose_of_use"] == "bris_de_glace"
    assert "unconscious" not in repr(sender.sent), "no justification or clinical text in it"


def _hidden_document(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "meta": {"security": [{"system": TRE_A07, "code": "INVISIBLE_PATIENT"}]},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "UmVzdWx0YXQ="}}],
    }


def test_a_hidden_document_is_announced_after_the_delay(
    runtime: SyncRuntime, worker: Worker, sender: ListSender, clock: FakeClock
) -> None:
    dev = load_two_ehpads(runtime)
    worker.drain()
    with dev.writing() as w:
        hidden = w.create(_hidden_document("alice")).version
        lifted = w.create(_hidden_document("gaston")).version
    worker.drain()
    clock.advance(13 * DAY)
    worker.drain()
    assert sender.sent == [], "not before two weeks"
    with dev.writing() as w:  # announced at a consultation: the label is lifted
        body = _hidden_document("gaston")
        body.pop("meta")
        w.update("DocumentReference", lifted.id, {**body, "id": lifted.id})
    clock.advance(2 * DAY)
    worker.drain()
    assert [(n.kind, n.patient, n.resource) for n in sender.sent] == [
        ("document-announced", "alice", f"DocumentReference/{hidden.id}")
    ]
    clock.advance(2 * DAY)
    worker.drain()
    assert len(sender.sent) == 1, "announced once"
