"""Proofs served through the in-process cache of upper subtree hashes (NodeCache), on
SQLite and PostgreSQL: the same proofs as RFC 9162's equations, fewer queries, and
nothing cached that a rolled-back append wrote."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event

from gateway.record.services import RecordServices
from gateway.storage import audit_nodes
from gateway.storage.audit_log import AuditLog
from gateway.storage.audit_nodes import NodeCache
from gateway.storage.engine import WRITE
from tests.audit_support import append_in_batches, entries, new_log
from tests.unit.audit import audit_reference as ref

SIZE = 45


@pytest.fixture
def engine(services: RecordServices) -> Engine:
    return services.store.engine


@pytest.fixture
def log(engine: Engine) -> AuditLog:
    return new_log(engine, checkpoint_every=1000)


class Queries:
    """Counts the statements that read ``table`` (BEGIN and the like do not count)."""

    def __init__(self, engine: Engine, table: str = "audit_") -> None:
        self.engine = engine
        self.table = table
        self.count = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        self.count += self.table in statement

    def __enter__(self) -> Queries:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


def committed_log(log: AuditLog) -> list[bytes]:
    items = entries(SIZE)
    append_in_batches(log, items, batch=7)
    return [e.content for e in items]


def test_cached_proofs_equal_the_rfc_for_every_index_and_size(
    log: AuditLog, engine: Engine
) -> None:
    data = committed_log(log)
    # Level 1 up, and a bound small enough that the cache starts over during the run.
    cache = NodeCache(min_level=1, max_entries=12)
    cache.saw_committed(SIZE)
    with engine.connect() as conn:
        for _round in range(2):  # cold, then warm
            for size in range(1, SIZE + 1):
                for index in range(size):
                    expected = ref.path(index, data[:size])
                    assert audit_nodes.inclusion(conn, index, size, cache) == expected
                    leaf, proof = audit_nodes.leaf_and_inclusion(conn, index, size, cache)
                    assert (leaf, proof) == (ref.sha256(b"\x00" + data[index]), expected)
                for first in range(1, size + 1):
                    got = audit_nodes.consistency(conn, first, size, cache)
                    assert got == ref.proof(first, data[:size])
            indexes = list(range(0, SIZE, 4))
            assert audit_nodes.inclusion_proofs(conn, indexes, SIZE, cache) == [
                ref.path(i, data) for i in indexes
            ]
            assert 0 < len(cache) <= 12


def test_a_warm_cache_saves_the_upper_levels_and_sometimes_the_query(
    log: AuditLog, engine: Engine
) -> None:
    data = committed_log(log)
    cache = NodeCache(min_level=0)  # every level: a warm proof needs no query at all
    cache.saw_committed(SIZE)
    with engine.connect() as conn:
        audit_nodes.leaf_and_inclusion(conn, 9, SIZE, cache)
        assert all(level >= 0 for level, _ in cache._hashes)
        with Queries(engine) as queries:
            leaf, proof = audit_nodes.leaf_and_inclusion(conn, 9, SIZE, cache)
        assert leaf == ref.sha256(b"\x00" + data[9])
        assert queries.count == 0
        assert proof == ref.path(9, data)
    upper = NodeCache(min_level=3)
    upper.saw_committed(SIZE)
    with engine.connect() as conn:
        audit_nodes.inclusion(conn, 9, SIZE, upper)
    assert upper._hashes and all(level >= 3 for level, _ in upper._hashes)


def test_nothing_beyond_the_committed_size_is_cached(log: AuditLog, engine: Engine) -> None:
    data = committed_log(log)
    cache = NodeCache(min_level=0)
    cache.saw_committed(SIZE)
    more = entries(20, start=SIZE)
    with engine.connect().execution_options(**WRITE) as conn:
        tx = conn.begin()
        log.append(conn, more)
        # A proof on the appending connection sees the uncommitted nodes ...
        proof = audit_nodes.inclusion(conn, 50, SIZE + 20, cache)
        assert proof == ref.path(50, data + [e.content for e in more])
        tx.rollback()
    # ... but keeps none of the nodes past the committed size.
    assert cache._hashes
    assert all((idx + 1) << level <= SIZE for level, idx in cache._hashes)


def test_the_committed_size_is_read_only_when_asked_beyond_it(
    log: AuditLog, engine: Engine
) -> None:
    committed_log(log)  # appended in writer transactions: this process knows nothing yet
    with engine.connect() as conn:
        with Queries(engine, "audit_head") as queries:
            assert log.committed_size(conn, at_least=1) == SIZE  # read
            assert log.committed_size(conn, at_least=SIZE) == SIZE  # known
        assert queries.count == 1
    log.append_standalone(entries(3, start=SIZE))  # a standalone commit teaches it
    with engine.connect() as conn, Queries(engine, "audit_head") as queries:
        assert log.committed_size(conn, at_least=SIZE + 3) == SIZE + 3
        assert queries.count == 0
        assert log.committed_size(conn, at_least=SIZE + 4) == SIZE + 3  # read: too small
        assert queries.count == 1
