"""The SQL audit log on SQLite and PostgreSQL: append, proofs, checkpoints, rotation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text, update

from gateway.audit.checkpoint import Signer, parse_checkpoint, verify_checkpoint
from gateway.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from gateway.audit.verifier import parse_export, verify, verify_export
from gateway.record.services import RecordServices
from gateway.storage import audit_checkpoints, audit_nodes, audit_reads
from gateway.storage import schema as s
from gateway.storage.audit_errors import AuditIntegrityError
from gateway.storage.audit_head import read_head
from gateway.storage.audit_log import AuditLog
from gateway.storage.engine import WRITE
from tests.audit_support import ORIGIN, T0, append_in_batches, entries, new_log


@pytest.fixture
def engine(services: RecordServices) -> Engine:
    return services.store.engine


@pytest.fixture
def log(engine: Engine) -> AuditLog:
    return new_log(engine, checkpoint_every=10)


def stored(engine: Engine) -> list[tuple[int, bytes, bytes | None]]:
    with engine.connect() as conn:
        return list(audit_reads.stored_entries(conn))


def notes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(audit_checkpoints.all_notes(conn))


class QueryCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.engine = engine

    def __call__(self, *args: Any) -> None:
        self.count += 1

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


def test_append_in_a_write_transaction_numbers_entries_and_commits_with_it(
    log: AuditLog, engine: Engine
) -> None:
    items = entries(7)
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        assert log.append(conn, items[:3]) == [0, 1, 2]
        assert log.append(conn, items[3:]) == [3, 4, 5, 6]
    rows = stored(engine)
    assert [(seq, content) for seq, content, _ in rows] == [
        (i, e.content) for i, e in enumerate(items)
    ]
    assert all(leaf == leaf_hash(content) for _, content, leaf in rows)
    assert log.head().size == 7


def test_a_rolled_back_transaction_leaves_no_trace(log: AuditLog, engine: Engine) -> None:
    items = entries(3)
    log.append_standalone(items[:1])

    def fail_after_append() -> None:
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            log.append(conn, items[1:])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_after_append()
    assert log.head().size == 1
    assert log.append_standalone(items[1:]) == [1, 2]
    assert verify(stored(engine), [log.checkpoint().note], [log.signer.signer.verifier_key]).ok


def test_search_columns_and_patients_are_stored(log: AuditLog, engine: Engine) -> None:
    log.append_standalone(entries(6))
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                s.audit_entry.c.agent, s.audit_entry.c.structure, s.audit_entry.c.recorded
            ).order_by(s.audit_entry.c.seq)
        ).all()
        patients = conn.execute(
            select(s.audit_patient.c.patient_id).where(s.audit_patient.c.seq == 5)
        ).scalars()
        assert list(patients) == ["p0"]
    assert rows[1] == ("810000000001", "1750000001", T0 + 1_000_000)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_appends_need_a_writer(log: AuditLog, engine: Engine) -> None:
    with engine.connect() as conn, conn.begin(), pytest.raises(RuntimeError, match="writer"):
        log.append(conn, entries(1))


def test_proofs_from_the_database_verify_with_one_query_each(log: AuditLog, engine: Engine) -> None:
    items = entries(45)
    append_in_batches(log, items, batch=7)
    leaves = [leaf_hash(e.content) for e in items]
    with engine.connect() as conn:
        for size in (1, 2, 7, 8, 31, 45):
            root = audit_nodes.root_at(conn, size)
            for index in range(size):
                with QueryCounter(engine) as counter:
                    proof = audit_nodes.inclusion(conn, index, size)
                assert counter.count <= 1
                assert verify_inclusion(leaves[index], index, size, proof, root)
            for first in range(1, size + 1):
                with QueryCounter(engine) as counter:
                    proof = audit_nodes.consistency(conn, first, size)
                assert counter.count <= 1
                old = audit_nodes.root_at(conn, first)
                assert verify_consistency(first, size, proof, old, root)
        batch = audit_nodes.inclusion_proofs(conn, [0, 5, 44], 45)
        assert batch == [audit_nodes.inclusion(conn, i, 45) for i in (0, 5, 44)]


def test_checkpoints_every_n_entries_in_the_appending_transaction(
    log: AuditLog, engine: Engine
) -> None:
    key = log.signer.signer.verifier_key
    log.append_standalone(entries(9))
    assert notes(engine) == []
    log.append_standalone(entries(1, start=9))
    append_in_batches(log, entries(25, start=10), batch=25)  # crosses 20 and 30 in one batch
    sizes = [verify_checkpoint(n, [key]).size for n in notes(engine)]
    assert sizes == [10, 20, 30]
    head = log.head()
    assert (head.size, head.checkpoint_size) == (35, 30)
    assert log.checkpoint_if_due() is None  # the last one was signed just now
    assert log.checkpoint().size == 35  # forced (shutdown, CLI)
    assert log.checkpoint().size == 35  # already covered: the same one back
    assert len(notes(engine)) == 4
    verdict = verify(stored(engine), notes(engine), [key])
    assert verdict.ok and verdict.checkpoints_checked == 4, verdict.message


def test_the_timer_rule_waits_for_the_period(engine: Engine) -> None:
    now = [T0]
    log = new_log(engine, checkpoint_seconds=60, clock=lambda: now[0])
    log.append_standalone(entries(1))  # the period starts with the first entry
    assert log.checkpoint_if_due() is None
    now[0] += 60_000_000
    assert log.checkpoint_if_due() is not None
    log.append_standalone(entries(1, start=1))
    assert log.checkpoint_if_due() is None
    now[0] += 59_000_000
    assert log.checkpoint_if_due() is None
    now[0] += 1_000_000
    cp = log.checkpoint_if_due()
    assert cp is not None and cp.size == 2
    now[0] += 60_000_000
    assert log.checkpoint_if_due() is None  # nothing new


def test_an_empty_log_gets_an_empty_checkpoint(log: AuditLog, engine: Engine) -> None:
    cp = log.checkpoint()
    assert parse_checkpoint(cp.note).checkpoint.size == 0
    assert verify([], notes(engine), [log.signer.signer.verifier_key]).ok


def test_rotation_keeps_old_checkpoints_verifiable(engine: Engine) -> None:
    old, new = Signer.generate(ORIGIN), Signer.generate(ORIGIN)
    new_log(engine, old, checkpoint_every=10).append_standalone(entries(15))
    rotated = new_log(engine, new, checkpoint_every=10)
    rotated.append_standalone(entries(10, start=15))  # checks the old key's checkpoint
    signed = notes(engine)
    assert [parse_checkpoint(n).signatures[0].key_id for n in signed] == [
        old.verifier_key.key_id,
        new.verifier_key.key_id,
    ]
    both = [old.verifier_key, new.verifier_key]
    assert verify(stored(engine), signed, both).ok
    only_new = verify(stored(engine), signed, [new.verifier_key])
    assert not only_new.ok and only_new.bad_checkpoint == 0


def test_a_tampered_tree_is_never_signed(log: AuditLog, engine: Engine) -> None:
    log.append_standalone(entries(10))  # checkpoint at 10
    log.append_standalone(entries(3, start=10))
    with engine.begin() as conn:
        conn.execute(
            update(s.audit_node)
            .where(s.audit_node.c.level == 3, s.audit_node.c.idx == 0)  # leaves 0..7
            .values(hash=b"\x00" * 32)
        )
    with pytest.raises(AuditIntegrityError, match="does not extend"):
        log.checkpoint()
    with pytest.raises(AuditIntegrityError):
        log.append_standalone(entries(10, start=13))  # would cross 20: refused as a whole
    assert log.head().size == 13


def test_a_tampered_head_is_never_signed(log: AuditLog, engine: Engine) -> None:
    log.append_standalone(entries(10))
    log.append_standalone(entries(3, start=10))
    with engine.begin() as conn:  # 13 = 8 + 4 + 1: three peaks; forge the last one
        peaks = conn.execute(select(s.audit_head.c.peaks)).scalar_one()
        conn.execute(update(s.audit_head).values(peaks=peaks[:64] + b"\x07" * 32))
    with pytest.raises(AuditIntegrityError, match="does not extend"):
        log.checkpoint()


def test_a_forged_previous_checkpoint_stops_signing(log: AuditLog, engine: Engine) -> None:
    log.append_standalone(entries(10))
    forged = Signer.generate(ORIGIN)
    from gateway.audit.checkpoint import Checkpoint, sign_checkpoint

    note = sign_checkpoint(Checkpoint(ORIGIN, 10, b"\x01" * 32), [forged])
    with engine.begin() as conn:
        conn.execute(update(s.audit_checkpoint).values(note=note))
    log.append_standalone(entries(1, start=10))
    with pytest.raises(AuditIntegrityError, match="does not verify"):
        log.checkpoint()


def test_a_missing_head_behind_entries_is_refused(log: AuditLog, engine: Engine) -> None:
    log.append_standalone(entries(3))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    with pytest.raises(AuditIntegrityError, match="head is behind"):
        log.append_standalone(entries(1, start=3))


def test_full_export_verifies_and_filters_select(log: AuditLog, engine: Engine) -> None:
    log.append_standalone(entries(12))
    cp = log.checkpoint()
    lines = list(audit_reads.export_lines(engine, audit_reads.ExportFilter(), batch=5))
    assert len(lines) == 12
    assert verify_export(lines, cp.note, [log.signer.signer.verifier_key]).ok
    which = audit_reads.ExportFilter(
        agent="810000000001", since=T0 + 2_000_000, until=T0 + 10_000_000
    )
    picked = [seq for seq, _, _ in parse_export(audit_reads.export_lines(engine, which))]
    assert picked == [5, 9]


def test_patient_entries_newest_first(log: AuditLog, engine: Engine) -> None:
    log.append_standalone(entries(12))
    with engine.connect() as conn:
        size = read_head(conn, lock=False).size
        rows = audit_reads.patient_entries(conn, "p2", upto=size, before=None, limit=2)
        assert [seq for seq, _ in rows] == [7, 2]
        rows = audit_reads.patient_entries(conn, "p2", upto=size, before=7, limit=2)
        assert [seq for seq, _ in rows] == [2]


def test_the_verifier_input_holds_every_entry_across_read_ahead_batches(
    log: AuditLog, engine: Engine
) -> None:
    items = entries(2 * audit_reads._AHEAD_BATCH + 3)  # SQLite reads in batches of these
    append_in_batches(log, items, batch=500)
    rows = stored(engine)
    assert [seq for seq, _, _ in rows] == list(range(len(items)))
    assert [content for _, content, _ in rows] == [e.content for e in items]
    assert all(leaf == leaf_hash(content) for _, content, leaf in rows)
