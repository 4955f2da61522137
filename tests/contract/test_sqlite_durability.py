"""Commits are durable; on SQLite (``synchronous=FULL``): what a client was told is stored
survives a power cut, not only a crash of the process (NORMAL would lose the last commits
in WAL mode: https://www.sqlite.org/pragma.html#pragma_synchronous)."""

from __future__ import annotations

from sqlalchemy import text

from gateway.access.context import AccessContext
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from tests.audit_support import entries, new_log

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_every_connection_commits_with_full_sync(services: RecordServices) -> None:
    engine = services.store.engine
    if services.store.dialect != "sqlite":  # durable with synchronous_commit on (its default)
        with engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
        return
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == FULL
    # A connection that served a write, and the audit's standalone appends, keep it.
    repo = Repository(AccessContext.dev_open(), services)
    with repo.writing() as writer:
        pid = writer.create({"resourceType": "Patient", "active": True}).version.id
    with repo.reading() as reader:
        reader.read("Patient", pid)
    log = new_log(engine)
    for i in range(5):  # a read's audit entry is appended on its own (another connection)
        log.append_standalone(entries(1, start=i))
    conns = [engine.connect() for _ in range(8)]  # every pooled connection
    try:
        assert [c.execute(text("PRAGMA synchronous")).scalar() for c in conns] == [FULL] * 8
    finally:
        for conn in conns:
            conn.close()
