"""Standalone appends from the head this process wrote last (on PostgreSQL, one
statement: :mod:`gateway.storage.audit_append_pg`), on SQLite and PostgreSQL: the same
log as the general append, one sequencer, checkpoints still signed, a locked or moved
head handled."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from gateway.audit.checkpoint import Signer
from gateway.audit.merkle import leaf_hash, root_from_leaves
from gateway.audit.verifier import verify
from gateway.record.services import RecordServices
from gateway.storage import audit_checkpoints, audit_nodes, audit_reads
from gateway.storage import schema as s
from gateway.storage.audit_errors import AuditUnavailable
from gateway.storage.audit_head import read_head
from gateway.storage.audit_log import AuditLog
from gateway.storage.engine import WRITE
from tests.audit_support import ORIGIN, append_in_batches, entries, new_log


@pytest.fixture
def engine(services: RecordServices) -> Engine:
    return services.store.engine


class Writes:
    """The statements that write to the audit tables (BEGIN, SET and SELECT do not count)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        if any(w in ("INSERT", "UPDATE") for w in words) and "audit_" in statement:
            self.statements.append(statement)

    def __enter__(self) -> Writes:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


def assert_log_is(engine: Engine, contents: list[bytes]) -> None:
    """The stored log holds exactly ``contents`` in order, and its tree is theirs."""
    leaves = [leaf_hash(c) for c in contents]
    with engine.connect() as conn:
        stored = list(audit_reads.stored_entries(conn))
        head = read_head(conn, lock=False)
        assert audit_nodes.root_at(conn, len(contents)) == root_from_leaves(leaves)
        patients = conn.execute(select(s.audit_patient.c.seq)).scalars().all()
    assert [seq for seq, _, _ in stored] == list(range(len(contents)))
    assert [data for _, data, _ in stored] == contents
    assert [leaf for _, _, leaf in stored] == leaves
    assert head.size == len(contents)
    assert head.frontier.root() == root_from_leaves(leaves)
    assert sorted(set(patients)) == list(range(len(contents)))  # every read names one


def test_standalone_appends_build_the_same_log_and_one_statement_each_on_postgresql(
    engine: Engine,
) -> None:
    log = new_log(engine, checkpoint_every=1000)
    items = entries(30)
    log.append_standalone(items[:1])  # the first append learns the head
    for item in items[1:]:
        with Writes(engine) as writes:
            assert log.append_standalone([item]) == [items.index(item)]
        if engine.dialect.name == "postgresql":
            assert len(writes.statements) == 1
            assert writes.statements[0].lstrip().startswith("WITH lk AS")
        else:
            assert len(writes.statements) == 4  # entry, patient, nodes, head
    assert_log_is(engine, [e.content for e in items])


def test_a_head_moved_by_another_writer_is_read_again(engine: Engine) -> None:
    log, other = new_log(engine), new_log(engine)
    items = entries(24)
    log.append_standalone(items[0:5])
    append_in_batches(other, items[5:9], batch=2)  # a write transaction elsewhere
    assert log.append_standalone(items[9:12]) == [9, 10, 11]  # not 5, 6, 7: no fork
    other.append_standalone(items[12:14])
    assert log.append_standalone(items[14:20]) == list(range(14, 20))
    log.checkpoint()  # the checkpoint moves the head too
    assert log.append_standalone(items[20:24]) == list(range(20, 24))
    assert_log_is(engine, [e.content for e in items])


def test_checkpoints_fall_due_in_standalone_appends_as_before(engine: Engine) -> None:
    log = new_log(engine, checkpoint_every=10)
    items = entries(25)
    for item in items:
        log.append_standalone([item])
    with engine.connect() as conn:
        notes = list(audit_checkpoints.all_notes(conn))
        assert read_head(conn, lock=False).checkpoint_size == 20
        stored = list(audit_reads.stored_entries(conn))
    sizes = sorted(int(n.split("\n")[1]) for n in notes)
    assert sizes == [10, 20]
    verdict = verify(stored, notes, [log.signer.signer.verifier_key])
    assert verdict.ok, verdict.message


def test_a_head_locked_by_a_writer_makes_the_append_wait_then_fail_cleanly(
    engine: Engine,
) -> None:
    log = new_log(engine, append_timeout=0.3)
    items = entries(4)
    log.append_standalone(items[:2])
    with engine.connect().execution_options(**WRITE) as writer:
        tx = writer.begin()
        read_head(writer, lock=True)  # a write transaction holds the sequencer
        with pytest.raises(AuditUnavailable):
            log.append_standalone(items[2:3])
        tx.rollback()
    assert log.append_standalone(items[2:4]) == [2, 3]
    assert_log_is(engine, [e.content for e in items])


def test_a_log_appended_by_many_processes_verifies(engine: Engine) -> None:
    signer = Signer.generate(ORIGIN)  # one log, one key, several processes
    logs: list[AuditLog] = [new_log(engine, signer, checkpoint_every=7) for _ in range(3)]
    items = entries(40)
    for i, item in enumerate(items):
        logs[(i * 7) % 3 if i % 5 else 0].append_standalone([item])
    logs[1].checkpoint()
    with engine.connect() as conn:
        notes = list(audit_checkpoints.all_notes(conn))
        stored = list(audit_reads.stored_entries(conn))
    verdict = verify(stored, notes, [signer.verifier_key])
    assert verdict.ok and verdict.entries_checked == 40, verdict.message
    assert_log_is(engine, [e.content for e in items])


AWKWARD = ['"', "\\", '\\"', "NULL", "", " {a,b} ", "é漢字🙂", "\t\n", "a'b", "NULL "]


def test_awkward_column_values_are_stored_as_they_are(engine: Engine) -> None:
    """The one-statement append sends its columns as array literals (quoting and
    escaping of its own): quotes, backslashes, braces, the word NULL, empty strings,
    None and non-ASCII come back exactly, as the general append stores them."""
    log = new_log(engine, checkpoint_every=1000)
    log.append_standalone(entries(1))  # the first append learns the head
    items = [
        replace(item, agent=text, client=None if i % 2 else text, structure=text, purpose=text)
        for i, (item, text) in enumerate(zip(entries(len(AWKWARD), start=1), AWKWARD, strict=True))
    ]
    items[0] = replace(items[0], patients=tuple(AWKWARD))
    for item in items:
        log.append_standalone([item])
    columns = (s.audit_entry.c.agent, s.audit_entry.c.client, s.audit_entry.c.structure)
    with engine.connect() as conn:
        rows = conn.execute(
            select(*columns, s.audit_entry.c.purpose).order_by(s.audit_entry.c.seq)
        ).all()
        named = conn.execute(
            select(s.audit_patient.c.patient_id).where(s.audit_patient.c.seq == 1)
        ).scalars()
        assert sorted(named) == sorted(AWKWARD)
    assert [tuple(r) for r in rows[1:]] == [
        (i.agent, i.client, i.structure, i.purpose) for i in items
    ]
    assert_log_is(engine, [e.content for e in [*entries(1), *items]])
