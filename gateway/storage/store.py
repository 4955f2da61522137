"""The SQL store: transactions over the schema in :mod:`gateway.storage.schema`.

:class:`SqlStore` hands out :class:`StoreTx` objects, one database transaction each:
``reader()`` for reads, ``writer()`` for anything that writes. Every write of a
resource version (history row, current row, index rows) happens inside one writer, so
it commits or rolls back as a whole.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Engine,
    Table,
    and_,
    bindparam,
    exists,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway.errors import Conflict
from gateway.storage import schema as s
from gateway.storage.engine import WRITE
from gateway.storage.index_writer import delete_index_rows, insert_index_rows
from gateway.storage.pg_bulk import insert_rows
from gateway.storage.records import StoredVersion, WriteOp
from gateway.storage.sealing import seal_resource
from gateway.storage.sqlite_bulk import insert_returning
from gateway.storage.version_rows import (
    CURRENT_COLUMNS,
    HISTORY_COLUMNS,
    current_version,
    historic_version,
)

_HISTORY_INSERT = (
    "resource_type",
    "id",
    "version",
    "last_updated",
    "method",
    "deleted",
    "patient_id",
    "content",
    "author",
    "author_structure",
    "created",
)
_CURRENT_INSERT = tuple(c for c in _HISTORY_INSERT if c != "method")  # no method there


_LOCK_ONE = text("SELECT pg_advisory_xact_lock(hashtext(:k))")
_LOCK_MANY = text(
    "SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM unnest(CAST(:keys AS text[])) AS k"
)


def _row(op: WriteOp, body: bytes | None, *, method: bool) -> tuple[Any, ...]:
    """The values of a history row (``method``) or a current row, in the order of
    :data:`_HISTORY_INSERT` or :data:`_CURRENT_INSERT`; ``body`` as stored (sealed)."""
    head = (op.resource_type, op.id, op.version, op.last_updated)
    tail = (op.deleted, op.patient_id, body, op.author, op.author_structure, op.created)
    return (*head, op.method, *tail) if method else (*head, *tail)


def _authorship(op: WriteOp) -> dict[str, Any]:
    return {"author": op.author, "author_structure": op.author_structure, "created": op.created}


STAMPED_TYPES = frozenset(
    {
        "Patient",
        "Consent",
        "CareTeam",
        "Group",
        "Practitioner",
        "PractitionerRole",
        "Organization",
    }
)
"""The types the patients' access facts derive from (gateway.record.facts_cache). A
transaction that writes any of them moves ``type_stamp`` before it commits."""

_READ_STAMP = select(s.type_stamp.c.n).where(s.type_stamp.c.id == 1)
_MOVE_STAMP = update(s.type_stamp).where(s.type_stamp.c.id == 1).values(n=s.type_stamp.c.n + 1)


#: Values per ``IN (...)`` list: well under SQLite's and psycopg's parameter limits.
IN_CHUNK = 500
# The versions columns are INTEGER: 32 bits on PostgreSQL (a larger bind is an error
# there, and past 64 bits an OverflowError in SQLite's driver).
MAX_VERSION = 2**31 - 1


def _slices(values: Collection[Any]) -> Iterator[list[Any]]:
    """``values`` in lists of at most :data:`IN_CHUNK`, for one ``IN`` query each."""
    items = list(values)
    for i in range(0, len(items), IN_CHUNK):
        yield items[i : i + IN_CHUNK]


class StoreTx:
    """One open database transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.written: set[str] = set()  # resource types this transaction wrote (or tried to)

    # -- reads ---------------------------------------------------------------------------

    def current(self, resource_type: str, rid: str, *, lock: bool = False) -> StoredVersion | None:
        """The current row (possibly a deletion tombstone), locked for update if asked."""
        stmt = select(*CURRENT_COLUMNS).where(
            s.resource.c.resource_type == resource_type, s.resource.c.id == rid
        )
        if lock:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return current_version(row, self.conn) if row else None

    def current_numbers(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The current version number of each (type, id) that exists, in one query per
        500 keys (a feed page asks for hundreds at once)."""
        out: dict[tuple[str, str], int] = {}
        r = s.resource
        for chunk in _slices(keys):
            stmt = select(r.c.resource_type, r.c.id, r.c.version).where(
                tuple_(r.c.resource_type, r.c.id).in_(chunk)
            )
            for row in self.conn.execute(stmt):
                out[(row.resource_type, row.id)] = row.version
        return out

    def current_many(self, pks: Sequence[int]) -> list[StoredVersion]:
        """Current rows by primary key, in the order of ``pks`` (missing ones skipped)."""
        if not pks:
            return []
        rows = self.conn.execute(select(*CURRENT_COLUMNS).where(s.resource.c.pk.in_(pks))).all()
        by_pk = {row.pk: current_version(row, self.conn) for row in rows}
        return [by_pk[pk] for pk in pks if pk in by_pk]

    def current_of_patient(self, resource_type: str, patient_id: str) -> list[StoredVersion]:
        """The live resources of one type that belong to one patient (``patient_id``)."""
        rows = self.conn.execute(
            select(*CURRENT_COLUMNS).where(
                s.resource.c.patient_id == patient_id,
                s.resource.c.resource_type == resource_type,
                s.resource.c.deleted.is_(False),
            )
        ).all()
        return [current_version(row, self.conn) for row in rows]

    def current_by_keys(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredVersion]:
        """The current row (possibly a tombstone) of each (type, id) that exists, as
        :meth:`current` reads it, in one query per 500 keys."""
        out: dict[tuple[str, str], StoredVersion] = {}
        r = s.resource
        for chunk in _slices(keys):
            stmt = select(*CURRENT_COLUMNS).where(tuple_(r.c.resource_type, r.c.id).in_(chunk))
            for row in self.conn.execute(stmt):
                out[(row.resource_type, row.id)] = current_version(row, self.conn)
        return out

    def current_of_patients(
        self, resource_types: Collection[str], patient_ids: Collection[str]
    ) -> list[StoredVersion]:
        """:meth:`current_of_patient` for several types and patients at once, in ``pk``
        order (one query per 500 patients)."""
        r = s.resource
        out: list[StoredVersion] = []
        for chunk in _slices(sorted(patient_ids)):
            rows = self.conn.execute(
                select(*CURRENT_COLUMNS)
                .where(
                    r.c.patient_id.in_(chunk),
                    r.c.resource_type.in_(sorted(resource_types)),
                    r.c.deleted.is_(False),
                )
                .order_by(r.c.pk)
            ).all()
            out.extend(current_version(row, self.conn) for row in rows)
        return out

    def referring_many(
        self, resource_type: str, param: str, target_type: str, target_ids: Collection[str]
    ) -> dict[str, list[str]]:
        """:meth:`referring` for several targets of one type: target id -> the ids of
        the live ``resource_type`` resources whose ``param`` references it."""
        r, x = s.resource, s.idx_reference
        out: dict[str, list[str]] = {}
        for chunk in _slices(sorted(target_ids)):
            rows = self.conn.execute(
                select(x.c.target_id, r.c.id)
                .join(x, x.c.resource_pk == r.c.pk)
                .where(
                    x.c.resource_type == resource_type,
                    x.c.param == param,
                    x.c.target_type == target_type,
                    x.c.target_id.in_(chunk),
                    r.c.deleted.is_(False),
                )
                .distinct()
            ).all()
            for row in rows:
                out.setdefault(row.target_id, []).append(row.id)
        return out

    def generation(self) -> int:
        """The stamp of :data:`STAMPED_TYPES`: an exact version of everything derived
        from them, on both back-ends.

        It moves in the same transaction as the write, at its very end, so a committed
        change to any of those types has always moved it. Read before what it stamps
        (PostgreSQL reads each statement at its own snapshot, READ COMMITTED): what is
        read after it is then at least as new as the stamp says, never older. A stamp
        drawn from the history sequence would not do on PostgreSQL, where transactions
        commit out of sequence order.
        """
        return int(self.conn.execute(_READ_STAMP).scalar_one())

    def referring(self, resource_type: str, param: str, target: tuple[str, str]) -> list[str]:
        """Ids of live ``resource_type`` resources whose ``param`` references ``target``."""
        r, x = s.resource, s.idx_reference
        rows = self.conn.execute(
            select(r.c.id)
            .join(x, x.c.resource_pk == r.c.pk)
            .where(
                x.c.resource_type == resource_type,
                x.c.param == param,
                x.c.target_type == target[0],
                x.c.target_id == target[1],
                r.c.deleted.is_(False),
            )
            .distinct()
        ).all()
        return [row.id for row in rows]

    def version(self, resource_type: str, rid: str, version: int) -> StoredVersion | None:
        if not 1 <= version <= MAX_VERSION:
            return None  # no version has it: and past the column's range, no bind takes it
        row = self.conn.execute(
            select(*HISTORY_COLUMNS).where(
                s.history.c.resource_type == resource_type,
                s.history.c.id == rid,
                s.history.c.version == version,
            )
        ).first()
        return historic_version(row, self.conn) if row else None

    def history(
        self,
        *,
        resource_type: str | None = None,
        rid: str | None = None,
        since: int | None = None,
        at: tuple[int, int] | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[StoredVersion]:
        """Versions, newest first (by commit sequence).

        ``since``: only versions written at or after that instant. ``at``: only versions
        that were current at some point in ``[low, high)`` (FHIR ``_at``).
        ``before_seq`` continues a previous page.
        """
        h = s.history
        stmt = select(*HISTORY_COLUMNS)
        conds = []
        if resource_type is not None:
            conds.append(h.c.resource_type == resource_type)
        if rid is not None:
            conds.append(h.c.id == rid)
        if since is not None:
            conds.append(h.c.last_updated >= since)
        if before_seq is not None:
            conds.append(h.c.seq < before_seq)
        if at is not None:
            low, high = at
            later = h.alias("later")
            conds.append(h.c.last_updated < high)
            conds.append(
                ~exists().where(
                    later.c.resource_type == h.c.resource_type,
                    later.c.id == h.c.id,
                    later.c.version > h.c.version,
                    later.c.last_updated <= low,
                )
            )
        if conds:
            stmt = stmt.where(and_(*conds))
        rows = self.conn.execute(stmt.order_by(h.c.seq.desc()).limit(limit)).all()
        return [historic_version(row, self.conn) for row in rows]

    def count_history(
        self,
        *,
        resource_type: str | None = None,
        rid: str | None = None,
        since: int | None = None,
    ) -> int:
        h = s.history
        stmt = select(func.count()).select_from(h)
        if resource_type is not None:
            stmt = stmt.where(h.c.resource_type == resource_type)
        if rid is not None:
            stmt = stmt.where(h.c.id == rid)
        if since is not None:
            stmt = stmt.where(h.c.last_updated >= since)
        return int(self.conn.execute(stmt).scalar_one())

    # -- writes --------------------------------------------------------------------------

    def lock(self, *keys: str) -> None:
        """Serialise writers on each of ``keys`` until commit (PostgreSQL advisory locks).

        The locks are taken in sorted order, so that writers locking overlapping sets
        never wait for each other in a cycle, and in one round trip: the server walks
        the array in order (``unnest`` yields its elements in array order).
        SQLite needs nothing: ``BEGIN IMMEDIATE`` already serialises every writer.
        """
        if self.dialect != "postgresql" or not keys:
            return
        ordered = sorted(set(keys))
        if len(ordered) == 1:
            self.conn.execute(_LOCK_ONE, {"k": ordered[0]})
        else:
            self.conn.execute(_LOCK_MANY, {"keys": ordered})

    def write(self, ops: Sequence[WriteOp]) -> list[int]:
        """Write new versions in bulk; return their history sequence numbers in order.

        A concurrent writer that created the same id or version first makes this raise
        :class:`Conflict` (409); the transaction must then be rolled back.
        """
        if not ops:
            return []
        self.written.update(op.resource_type for op in ops)
        try:
            return self._write(ops)
        except IntegrityError:
            raise Conflict(
                "A concurrent request wrote the same resource version; retry",
                code="GW-3011",
            ) from None

    def _write(self, ops: Sequence[WriteOp]) -> list[int]:
        # Sealed once per version: the current row and its history row hold the same bytes.
        sealed = [
            seal_resource(self.conn, op.resource_type, op.id, op.version, op.patient_id, op.content)
            for op in ops
        ]
        seqs = self._insert_history(ops, sealed)
        replaced = [
            (op, b) for op, b in zip(ops, sealed, strict=True) if op.existing_pk is not None
        ]
        created = [(op, b) for op, b in zip(ops, sealed, strict=True) if op.existing_pk is None]
        if replaced:
            pks = [op.existing_pk for op, _ in replaced if op.existing_pk is not None]
            delete_index_rows(self.conn, pks)
            self.conn.execute(
                update(s.resource).where(s.resource.c.pk == bindparam("b_pk")),
                [
                    {
                        "b_pk": op.existing_pk,
                        "version": op.version,
                        "last_updated": op.last_updated,
                        "deleted": op.deleted,
                        "patient_id": op.patient_id,
                        "content": body,
                        **_authorship(op),
                    }
                    for op, body in replaced
                ],
            )
        if created:
            new_pks = self._insert_current(created)
            for (op, _), pk in zip(created, new_pks, strict=True):
                op.existing_pk = pk
        insert_index_rows(
            self.conn,
            [(op.existing_pk, op.resource_type, op.index) for op in ops if op.index is not None],
        )
        return seqs

    def _insert_history(self, ops: Sequence[WriteOp], sealed: Sequence[bytes | None]) -> list[int]:
        """Insert the history rows of ``ops``; their sequence numbers, in order."""
        rows = [_row(op, body, method=True) for op, body in zip(ops, sealed, strict=True)]
        got = self._insert(
            s.history, _HISTORY_INSERT, rows, ("seq", "resource_type", "id", "version")
        )
        seq_of = {(t, i, v): seq for seq, t, i, v in got}
        return [seq_of[(op.resource_type, op.id, op.version)] for op in ops]

    def _insert_current(self, created: Sequence[tuple[WriteOp, bytes | None]]) -> list[int]:
        """Insert current rows for new resources; their primary keys, in order."""
        rows = [_row(op, body, method=False) for op, body in created]
        got = self._insert(s.resource, _CURRENT_INSERT, rows, ("pk", "resource_type", "id"))
        pk_of = {(t, i): pk for pk, t, i in got}
        return [pk_of[(op.resource_type, op.id)] for op, _ in created]

    def _insert(
        self,
        table: Table,
        columns: tuple[str, ...],
        rows: Sequence[Sequence[Any]],
        returning: tuple[str, ...],
    ) -> list[tuple[Any, ...]]:
        """Insert ``rows`` in the order given, in a few statements; the ``returning``
        columns of each, in no promised order."""
        if self.dialect == "postgresql":
            return insert_rows(self.conn, table, columns, rows, returning)
        return insert_returning(self.conn, table, columns, rows, returning)

    def purge_index(self, pks: Sequence[int]) -> None:
        delete_index_rows(self.conn, pks)


class SqlStore:
    """Transactions over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def reader(self) -> Iterator[StoreTx]:
        with self.engine.connect() as conn, conn.begin():
            yield StoreTx(conn)

    @contextmanager
    def writer(self) -> Iterator[StoreTx]:
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            tx = StoreTx(conn)
            yield tx
            if not tx.written.isdisjoint(STAMPED_TYPES):
                # Last statement before the commit: the row lock it takes (which orders
                # concurrent stamped writers) is held for the commit only.
                conn.execute(_MOVE_STAMP)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
