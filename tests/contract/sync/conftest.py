"""Fixtures for the sync contract tests: a sync runtime on the parametrised back-end,
a demo record with two EHPADs, and their system contexts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from gateway.access.context import AccessContext
from gateway.auth import demo
from gateway.config import Settings
from gateway.events.memory import MemoryBus
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.sync.runtime import SyncRuntime
from tests.sync_support import sync_runtime

EHPAD_B = "1920000049"
CONTEXT_A = demo.EHPAD_SYSTEM.context(group="ehpad-a")
CONTEXT_B = replace(
    demo.EHPAD_SYSTEM.context(group="ehpad-b"), client_id="demo-ehpad-b", structure=EHPAD_B
)


@pytest.fixture
def runtime(services: RecordServices, settings: Settings) -> Iterator[SyncRuntime]:
    made = sync_runtime(services, settings, MemoryBus())
    yield made
    made.close()


def group(gid: str, members: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Group", "id": gid, "type": "person", "actual": True}
    if members:
        out["member"] = [{"entity": {"reference": f"Patient/{m}"}} for m in members]
    return out


def heart_rate(patient: str, value: int = 72) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {
            "value": value,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def patient(pid: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": pid.title()}]}


def load_two_ehpads(runtime: SyncRuntime) -> Repository:
    """Gaston lives in EHPAD A, Bruno in EHPAD B; each has one heart rate."""
    dev = Repository(AccessContext.dev_open(), runtime.services)
    with dev.writing() as w:
        for pid in ("gaston", "bruno", "alice"):
            w.update("Patient", pid, patient(pid))
        w.update("Group", "ehpad-a", group("ehpad-a", ["gaston"]))
        w.update("Group", "ehpad-b", group("ehpad-b", ["bruno"]))
        w.create(heart_rate("gaston"))
        w.create(heart_rate("bruno"))
        w.create(heart_rate("alice"))
    return dev
