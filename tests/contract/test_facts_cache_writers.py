"""The shared patient-facts cache and write units (gateway/record/facts_cache.py).

A writer whose transaction has written no fact-bearing type sees only committed state,
so it may use and fill the cache (on both back-ends); once it has written one (a Group,
a CareTeam…), its facts are its own and never enter the cache, even if it then rolls
back. A fact-bearing write by any worker, committed in any order, is seen at once.
"""

from __future__ import annotations

import pytest

from gateway.access.context import AccessContext
from gateway.app import build_services
from gateway.config import Settings
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage.records import WriteOp


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
    writer_repo = Repository(AccessContext.dev_open(), services)
    with writer_repo.writing() as writer:
        p1 = writer.create({"resourceType": "Patient", "active": True}).version.id
    with writer_repo.writing() as writer:
        assert writer.patient_facts(p1).groups == frozenset()
    cache = services.facts_cache
    assert cache is not None
    assert len(cache) == 1, "a clean writer fills the cache"

    def own_facts_then_roll_back() -> None:
        with writer_repo.writing() as writer:
            group = writer.create(_group(p1)).version
            # Its own facts: the group it has just written, not the cached ones.
            assert writer.patient_facts(p1).groups == frozenset({group.id})
            assert len(cache) == 1, "never cached"
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


def _stamp(services: RecordServices) -> int:
    with services.store.reader() as tx:
        return tx.generation()


def _op(resource_type: str, rid: str) -> WriteOp:
    return WriteOp(
        resource_type=resource_type,
        id=rid,
        version=1,
        last_updated=1,
        method="POST",
        content=b"{}",
        patient_id=None,
        index=None,
    )


def test_the_stamp_moves_with_each_committed_fact_bearing_write_only(
    services: RecordServices,
) -> None:
    store = services.store
    start = _stamp(services)
    with store.writer() as tx:
        tx.write([_op("Observation", "o1")])
    assert _stamp(services) == start, "not a fact-bearing type"
    with store.writer() as tx:
        tx.write([_op("Patient", "p1"), _op("Consent", "c1")])
    assert _stamp(services) == start + 1, "once per transaction"

    def consent_then_roll_back() -> None:
        with store.writer() as tx:
            tx.write([_op("Consent", "c2")])
            raise _RolledBack

    with pytest.raises(_RolledBack):
        consent_then_roll_back()
    assert _stamp(services) == start + 1, "a rollback moves nothing"


def test_a_fact_written_by_another_worker_is_seen_at_once(
    settings: Settings, services: RecordServices
) -> None:
    other = build_services(settings)  # another worker: its own engine and its own cache
    try:
        repo = Repository(AccessContext.dev_open(), services)
        with repo.writing() as writer:
            p1 = writer.create({"resourceType": "Patient", "active": True}).version.id
        with repo.reading() as reader:
            assert reader.patient_facts(p1).groups == frozenset()
        assert services.facts_cache is not None and len(services.facts_cache) == 1
        with Repository(AccessContext.dev_open(), other).writing() as writer:
            group = writer.create(_group(p1)).version
        with repo.reading() as reader:
            assert reader.patient_facts(p1).groups == frozenset({group.id})
    finally:
        other.store.engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_fact_committed_after_a_later_one_is_seen(services: RecordServices) -> None:
    """PostgreSQL commits out of history order: a Group written first (a lower history
    sequence) and committed last must still reach readers that cached facts between the
    two commits. (SQLite serialises writers: the two units cannot overlap there.)"""
    repo = Repository(AccessContext.dev_open(), services)
    with repo.writing() as writer:
        p1 = writer.create({"resourceType": "Patient", "active": True}).version.id
    first = Repository(AccessContext.dev_open(), services).writing()
    slow = first.__enter__()
    try:
        group = slow.create(_group(p1)).version
        slow.flush()
        with Repository(AccessContext.dev_open(), services).writing() as fast:
            fast.create({"resourceType": "Patient", "active": True})
        with repo.reading() as reader:
            assert reader.patient_facts(p1).groups == frozenset(), "not committed yet"
    except BaseException as exc:
        first.__exit__(type(exc), exc, exc.__traceback__)
        raise
    first.__exit__(None, None, None)
    with repo.reading() as reader:
        assert reader.patient_facts(p1).groups == frozenset({group.id})
