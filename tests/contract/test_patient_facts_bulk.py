"""Loading several patients' facts at once (gateway/record/patient_facts.py).

:func:`load_patients_facts` groups the reads of :func:`load_patient_facts`; for every
patient of the differential leak world (every Consent shape, care teams naming
Practitioners, PractitionerRoles and Organizations, EHPAD Groups, INS identifiers,
deletions) it must return exactly what the per-patient load returns, on both back-ends.
:func:`warm` fills the shared cache with them only while the transaction is clean.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.access.context import AccessContext
from gateway.app import access_rules
from gateway.config import Settings
from gateway.record.facts_cache import FactsCache, warm
from gateway.record.patient_facts import load_patient_facts, load_patients_facts
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage.records import WriteOp
from tests.integration.leak_world import Matrix, World

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _seed(settings: Settings, services: RecordServices) -> list[str]:
    """The leak world's writes, one transaction per author (as the leak test seeds it)."""
    world = World(Matrix.load(ROOT / "profiles" / "access-matrix.yaml"))
    trusted = replace(services, policy=access_rules(settings, trusted_loader=True))
    patients: set[str] = set()
    for batch in world.writes:
        by_author: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}
        for key, author, structure, content in batch:
            if key.startswith("Patient/"):
                patients.add(key.split("/", 1)[1])
            entry: dict[str, Any]
            if content is None:
                entry = {"request": {"method": "DELETE", "url": key}}
            else:
                entry = {"resource": content, "request": {"method": "PUT", "url": key}}
            by_author.setdefault((author, structure), []).append(entry)
        for (author, structure), entries in by_author.items():
            ctx = AccessContext(kind="dev", client_id="dev", subject=author, structure=structure)
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            request = FhirRequest(
                "POST", [], resource=bundle, base="seed", headers={"prefer": "return=minimal"}
            )
            assert dispatch(request, Repository(ctx, trusted)).status == 200
    return sorted(patients)


def test_bulk_load_equals_the_per_patient_load(
    settings: Settings, services: RecordServices
) -> None:
    patients = _seed(settings, services)
    asked = [*patients, "no-such-patient"]
    with services.store.reader() as tx:
        bulk = load_patients_facts(tx, asked, now=NOW)
        assert load_patients_facts(tx, [], now=NOW) == {}
        assert set(bulk) == set(asked)
        for patient_id in asked:
            one = load_patient_facts(tx, patient_id, now=NOW)
            assert bulk[patient_id] == one, patient_id
            assert dict(bulk[patient_id].actor_references) == dict(one.actor_references)
    assert any(f.unreadable for f in bulk.values()), "the world has unreadable consents"
    assert any(f.groups for f in bulk.values()), "and EHPAD residents"
    assert any(f.care_team_professionals for f in bulk.values()), "and care teams"


def test_warm_fills_the_cache_only_while_clean(services: RecordServices) -> None:
    repo = Repository(AccessContext.dev_open(), services)
    with repo.writing() as writer:
        ids = [writer.create({"resourceType": "Patient", "active": True}).version.id for _ in "ab"]
    cache = FactsCache()
    with services.store.writer() as tx:
        warm(cache, tx, ids, now=NOW)
        generation = tx.generation()
        for patient_id in ids:
            assert cache.get(patient_id, generation) == load_patient_facts(tx, patient_id, now=NOW)
    dirty = FactsCache()
    with services.store.writer() as tx:
        tx.write(
            [
                WriteOp(
                    resource_type="Group",
                    id="g1",
                    version=1,
                    last_updated=1,
                    method="POST",
                    content=b"{}",
                    patient_id=None,
                    index=None,
                )
            ]
        )
        warm(dirty, tx, ids, now=NOW)
    assert len(dirty) == 0, "a transaction that wrote a fact-bearing type keeps its facts"
