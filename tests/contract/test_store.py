"""The SQL store behaves the same on SQLite and PostgreSQL (real servers, no mocks)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from gateway.errors import Conflict
from gateway.record.services import RecordServices
from gateway.search.rows import DateRow, IndexRows, NumberRow, QuantityRow, StringRow, TokenRow
from gateway.storage import schema as s
from gateway.storage.records import WriteOp
from gateway.storage.store import SqlStore


def _op(
    rid: str,
    version: int,
    at: int,
    *,
    pk: int | None = None,
    body: bytes | None = b"{}",
    rows: IndexRows | None = None,
) -> WriteOp:
    return WriteOp(
        resource_type="Patient",
        id=rid,
        version=version,
        last_updated=at,
        method="POST" if version == 1 else ("DELETE" if body is None else "PUT"),
        content=body,
        patient_id=rid,
        index=rows if body is not None else None,
        existing_pk=pk,
    )


def _count(store: SqlStore, table: object) -> int:
    with store.reader() as tx:
        return int(tx.conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.fixture
def store(services: RecordServices) -> SqlStore:
    return services.store


def test_create_read_update_history(store: SqlStore) -> None:
    rows = IndexRows(
        tokens=[TokenRow("identifier", "s", "v1")], strings=[StringRow("name", "a", "A")]
    )
    with store.writer() as tx:
        seqs = tx.write([_op("a", 1, 1000, body=b'{"v":1}', rows=rows)])
    assert len(seqs) == 1
    with store.reader() as tx:
        cur = tx.current("Patient", "a")
        assert cur is not None and cur.version == 1 and cur.content == b'{"v":1}'
        pk = cur.pk
    assert _count(store, s.idx_token) == 1
    new_rows = IndexRows(dates=[DateRow("birthdate", 1, 2)])
    with store.writer() as tx:
        tx.write([_op("a", 2, 2000, pk=pk, body=b'{"v":2}', rows=new_rows)])
    assert _count(store, s.idx_token) == 0, "index rows of the old version are gone"
    assert _count(store, s.idx_date) == 1
    with store.reader() as tx:
        cur = tx.current("Patient", "a")
        assert cur is not None and cur.version == 2 and cur.pk == pk
        v1 = tx.version("Patient", "a", 1)
        assert v1 is not None and v1.content == b'{"v":1}'
        hist = tx.history(resource_type="Patient", rid="a")
        assert [v.version for v in hist] == [2, 1]
        assert [v.version for v in tx.history(resource_type="Patient", rid="a", since=1500)] == [2]
        assert tx.version("Patient", "a", 3) is None


def test_delete_is_a_tombstone_and_drops_index_rows(store: SqlStore) -> None:
    with store.writer() as tx:
        tx.write([_op("a", 1, 1000, rows=IndexRows(tokens=[TokenRow("x", None, "y")]))])
        pk = tx.current("Patient", "a").pk  # type: ignore[union-attr]
        tx.write([_op("a", 2, 2000, pk=pk, body=None)])
    with store.reader() as tx:
        cur = tx.current("Patient", "a")
        assert cur is not None and cur.deleted and cur.content is None
        assert [v.deleted for v in tx.history(rid="a")] == [True, False]
    assert _count(store, s.idx_token) == 0


def test_at_returns_the_versions_current_during_the_period(store: SqlStore) -> None:
    with store.writer() as tx:
        tx.write([_op("a", 1, 1000)])
        pk = tx.current("Patient", "a").pk  # type: ignore[union-attr]
        tx.write([_op("a", 2, 2000, pk=pk)])
        tx.write([_op("a", 3, 3000, pk=pk)])
    with store.reader() as tx:
        assert [v.version for v in tx.history(rid="a", at=(2500, 2600))] == [2]
        assert [v.version for v in tx.history(rid="a", at=(1500, 2500))] == [2, 1]
        assert [v.version for v in tx.history(rid="a", at=(500, 900))] == []
        assert [v.version for v in tx.history(rid="a", at=(9000, 9001))] == [3]


def test_paging_by_sequence(store: SqlStore) -> None:
    with store.writer() as tx:
        tx.write([_op(f"p{i}", 1, 1000 + i) for i in range(7)])
    with store.reader() as tx:
        first = tx.history(limit=3)
        rest = tx.history(limit=10, before_seq=first[-1].seq)
    ids = [v.id for v in first + rest]
    assert ids == [f"p{i}" for i in reversed(range(7))]


def test_bulk_write_keeps_order_and_primary_keys(store: SqlStore) -> None:
    ops = [
        _op(f"p{i}", 1, 1000, rows=IndexRows(tokens=[TokenRow("k", None, str(i))]))
        for i in range(50)
    ]
    with store.writer() as tx:
        seqs = tx.write(ops)
    assert seqs == sorted(seqs)
    with store.reader() as tx:
        for op in ops:
            cur = tx.current("Patient", op.id)
            assert cur is not None and cur.pk == op.existing_pk
        rows = tx.conn.execute(select(s.idx_token.c.resource_pk, s.idx_token.c.code)).all()
    by_code = {code: pk for pk, code in rows}
    assert all(by_code[str(i)] == ops[i].existing_pk for i in range(50))


def test_duplicate_version_is_a_conflict_and_rolls_back(store: SqlStore) -> None:
    with store.writer() as tx:
        tx.write([_op("a", 1, 1000)])

    def write_b_then_a_again() -> None:
        with store.writer() as tx:
            tx.write([_op("b", 1, 1000)])
            tx.write([_op("a", 1, 1000)])

    with pytest.raises(Conflict):
        write_b_then_a_again()
    with store.reader() as tx:
        assert tx.current("Patient", "b") is None, "the whole transaction rolled back"


def test_long_values_are_clipped_before_the_index(store: SqlStore) -> None:
    long = "x" * 5000
    with store.writer() as tx:
        tx.write([_op("a", 1, 1, rows=IndexRows(strings=[StringRow("name", long, long)]))])
    with store.reader() as tx:
        norm, exact = tx.conn.execute(select(s.idx_string.c.norm, s.idx_string.c.exact)).one()
    assert len(norm) == 512 and exact == long


def test_only_the_long_values_of_a_write_are_clipped(store: SqlStore) -> None:
    long = "y" * 600
    tokens = [
        TokenRow("identifier", "s", "1"),
        TokenRow("identifier", long, long, long),
        TokenRow("identifier", None, "2", "two"),
    ]
    with store.writer() as tx:
        tx.write([_op("a", 1, 1, rows=IndexRows(tokens=tokens))])
    with store.reader() as tx:
        t = s.idx_token
        got = tx.conn.execute(select(t.c.system, t.c.code, t.c.text).order_by(t.c.code)).all()
    assert [tuple(r) for r in got] == [
        ("s", "1", None),
        (None, "2", "two"),
        (long[:512], long[:512], long[:512]),
    ]


def test_advisory_lock_is_callable_in_a_writer(store: SqlStore) -> None:
    with store.writer() as tx:
        tx.lock("Patient?identifier=s|v")
        tx.write([_op("a", 1, 1)])
    with store.reader() as tx:
        assert tx.current("Patient", "a") is not None


@pytest.mark.parametrize("count", [40, 150])  # 150: several statements on SQLite
def test_bulk_write_numbers_history_rows_in_the_order_given(store: SqlStore, count: int) -> None:
    ops = [_op(f"q{i}", 1, 1000 + i, pk=None) for i in range(count)]
    with store.writer() as tx:
        seqs = tx.write(ops)
    with store.reader() as tx:
        rows = tx.conn.execute(select(s.history.c.seq, s.history.c.id)).all()
    assert dict(rows) == {seq: op.id for seq, op in zip(seqs, ops, strict=True)}
    assert seqs == sorted(seqs)
    with store.reader() as tx:
        pks = dict(tx.conn.execute(select(s.resource.c.id, s.resource.c.pk)).all())
    assert [pks[op.id] for op in ops] == [op.existing_pk for op in ops]
    assert [op.existing_pk for op in ops] == sorted(op.existing_pk or 0 for op in ops)


# 1: a few rows per table (one statement for all, on PostgreSQL); 3: a few tokens and
# numbers with more quantities (COPY); 12: enough for the bulk forms everywhere.
@pytest.mark.parametrize("copies", [1, 3, 12])
def test_index_rows_of_mixed_numeric_kinds_and_odd_text_are_stored(
    store: SqlStore, copies: int
) -> None:
    odd = 'tab\there, new\nline, back\\slash, quote\' "double", é ✓, NUL-free'
    rows = IndexRows(
        tokens=[TokenRow("a", None, None), TokenRow("b", "urn:s", odd)] * copies,
        quantities=[
            QuantityRow("v", 70, 69.5, 70.5, None, None),
            QuantityRow("v", 70.25, 70.2, 70.3, "http://unitsofmeasure.org", "kg", "kg"),
        ]
        * copies,
        numbers=[NumberRow("n", 3, 2.5, 3.5)] * copies,
    )
    with store.writer() as tx:
        tx.write([_op("m", 1, 1, rows=rows)])
    with store.reader() as tx:
        quantities = tx.conn.execute(
            select(s.idx_quantity.c.value, s.idx_quantity.c.code).order_by(s.idx_quantity.c.value)
        ).all()
        tokens = tx.conn.execute(
            select(s.idx_token.c.system, s.idx_token.c.code).order_by(s.idx_token.c.param)
        ).all()
        numbers = tx.conn.execute(select(s.idx_number.c.value)).scalars().all()
    assert [tuple(q) for q in quantities] == [(70.0, None)] * copies + [(70.25, "kg")] * copies
    assert [tuple(t) for t in tokens] == [(None, None)] * copies + [("urn:s", odd)] * copies
    assert numbers == [3.0] * copies


def test_locking_several_keys_holds_each_until_commit(store: SqlStore) -> None:
    keys = ("intake:b", "intake:a", "Observation?identifier=s|1", "intake:a")
    with store.writer() as tx:
        tx.lock(*keys)
        if store.dialect == "postgresql":
            with store.engine.connect() as other:
                for key in set(keys):
                    taken = other.execute(
                        text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": key}
                    ).scalar_one()
                    assert taken is False, key
        tx.write([_op("l", 1, 1)])
    if store.dialect == "postgresql":
        with store.engine.connect() as other:
            for key in set(keys):
                taken = other.execute(
                    text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": key}
                ).scalar_one()
                assert taken is True, key
            other.rollback()
    with store.reader() as tx:
        assert tx.current("Patient", "l") is not None
