"""The shared patient-facts cache and write units (gateway/record/facts_cache.py).

A writer whose transaction has written no fact-bearing type sees exactly the committed
state the stamp names, so it may use and fill the cache (on SQLite, where the stamp is
exact); once it has written one (a Group, a CareTeam…), its facts are its own and never
enter the cache, even if it then rolls back.
"""

from __future__ import annotations

import pytest

from gateway.access.context import AccessContext
from gateway.record.repository import Repository
from gateway.record.services import RecordServices


def _group(patient: str) -> dict[str, object]:
    return {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "member": [{"entity": {"reference": f"Patient/{patient}"}}],
    }


class _RolledBack(Exception):
    pass


def test_writers_share_clean_facts_and_keep_their_own(services: RecordServices) -> None:
    sqlite = services.store.dialect == "sqlite"
    writer_repo = Repository(AccessContext.dev_open(), services)
    with writer_repo.writing() as writer:
        p1 = writer.create({"resourceType": "Patient", "active": True}).version.id
    with writer_repo.writing() as writer:
        assert writer.patient_facts(p1).groups == frozenset()
    cache = services.facts_cache
    assert cache is not None
    assert len(cache) == (1 if sqlite else 0), "a clean writer fills the cache"

    def own_facts_then_roll_back() -> None:
        with writer_repo.writing() as writer:
            group = writer.create(_group(p1)).version
            # Its own facts: the group it has just written, not the cached ones.
            assert writer.patient_facts(p1).groups == frozenset({group.id})
            assert len(cache) == (1 if sqlite else 0), "never cached"
            raise _RolledBack

    with pytest.raises(_RolledBack):
        own_facts_then_roll_back()

    with Repository(AccessContext.dev_open(), services).reading() as reader:
        assert reader.patient_facts(p1).groups == frozenset(), "the rollback left nothing"

    with writer_repo.writing() as writer:
        group = writer.create(_group(p1)).version
    with Repository(AccessContext.dev_open(), services).reading() as reader:
        assert reader.patient_facts(p1).groups == frozenset({group.id}), "committed: seen"


def test_a_unit_reads_facts_again_after_writing_a_fact_bearing_type(
    services: RecordServices,
) -> None:
    """Facts loaded early in a unit (a transaction's first entries) must not outlive a
    Group, CareTeam or Consent the same unit writes later."""
    repo = Repository(AccessContext.dev_open(), services)
    with repo.writing() as writer:
        p1 = writer.create({"resourceType": "Patient", "active": True}).version.id
        before = writer.patient_facts(p1)
        assert before.groups == frozenset()
        group = writer.create(_group(p1)).version
        assert writer.patient_facts(p1).groups == frozenset({group.id})
        writer.delete("Group", group.id)
        assert writer.patient_facts(p1).groups == frozenset()
