"""One database transaction shared by several caller-bound writers.

Ingesting one message writes as the sender, sometimes under two contexts (a
professional's context names the patient of each message: :meth:`Sender.for_patient`),
and the gateway itself writes the Provenance (:mod:`gateway.intake.gateway_writer`).
All of it must commit or roll back together, and the ledger and quarantine rows with
it. A :class:`WriteUnit` is that transaction: it hands out one
:class:`~gateway.record.writer.RecordWriter` per context, all on the same connection,
and a :class:`BoundRepository` that joins it, so ``dispatch`` of a transaction Bundle
runs inside (the repository's nested-unit rule, :mod:`gateway.record.repository`).

Writers queue their versions; :meth:`WriteUnit.flush` writes every queue so that the
next reader sees them. Listeners hear about the committed versions after the commit,
as with :meth:`Repository.writing`.

A unit opened with ``merge_writes`` (one HL7 message, or a group of them) writes the
queues of all its writers in one :meth:`StoreTx.write` (one INSERT per table instead
of one per writer: the clinical resources and the Provenance of a message go
together): an interaction that ends does not write its queue, it is written at the
next flush (before any read of the unit's own SQL, and at commit). Its audit record
names the queued versions; if writing them then fails with a 409, that record becomes
the refusal the interaction would have got had it written them itself (the status and
code :meth:`Repository.record_failure` records), so the audit trail is the same.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace

from sqlalchemy.engine import Connection

from gateway.access.context import AccessContext
from gateway.audit.events import AuditRecord
from gateway.errors import Conflict
from gateway.record.audit_trail import Interaction, record_of
from gateway.record.reader import RecordReader
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.record.writer import RecordWriter
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx


class BoundRepository(Repository):
    """A repository whose unit of work is an already open :class:`RecordWriter`.

    Its audit records go to the :class:`WriteUnit`, which appends them in its own
    transaction (they commit with the writes) or, if that rolls back, on their own after
    the rollback: a refused message is recorded too.
    """

    def __init__(self, writer: RecordWriter, unit: WriteUnit) -> None:
        super().__init__(writer.ctx, writer.services)
        self._writer = writer
        self._unit = unit
        self._depth = 0

    @contextmanager
    def reading(self) -> Iterator[RecordReader]:
        with self._joined():
            yield self._writer

    @contextmanager
    def writing(self) -> Iterator[RecordWriter]:
        with self._joined():
            yield self._writer

    @contextmanager
    def _joined(self) -> Iterator[None]:
        """Nested calls join; the outermost one notes the interaction for the audit."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self.interaction is not None:
            if not self._unit.merge_writes:
                self._writer.flush()
            queued = self._writer.pending
            versions = [*self._writer.committed, *queued, *self._writer.disclosed]
            if queued:
                self._unit.defer(self.interaction, self.ctx)
            self._unit.audit.append(
                record_of(self.interaction, self.ctx, self.services.clock(), versions)
            )

    def record_failure(self, status: int, code: str) -> None:
        if self.interaction is not None:
            self._unit.audit.append(
                record_of(
                    self.interaction,
                    self.ctx,
                    self.services.clock(),
                    (),
                    status=status,
                    reason=code,
                )
            )


class WriteUnit:
    def __init__(
        self, services: RecordServices, tx: StoreTx, *, merge_writes: bool = False
    ) -> None:
        self.services = services
        self.tx = tx
        self.merge_writes = merge_writes
        self._writers: list[RecordWriter] = []
        self.audit: list[AuditRecord] = []  # appended at commit (or after a rollback)
        # Audit records (index in ``audit``) whose interaction's versions are still queued.
        self._deferred: list[tuple[int, Interaction, AccessContext]] = []

    def defer(self, interaction: Interaction, ctx: AccessContext) -> None:
        """The audit record about to be appended names versions not written yet."""
        self._deferred.append((len(self.audit), interaction, ctx))

    @property
    def conn(self) -> Connection:
        """The connection, with every queued version written (for the pipeline's own SQL)."""
        self.flush()
        return self.tx.conn

    def writer(
        self, ctx: AccessContext, services: RecordServices | None = None, *, flush: bool = True
    ) -> RecordWriter:
        """A writer for ``ctx`` on this transaction; earlier writers' queues are flushed,
        unless ``flush`` is false (a writer that reads nothing the others queued)."""
        if flush:
            self.flush()
        writer = RecordWriter(ctx, services or self.services, self.tx)
        self._writers.append(writer)
        return writer

    def repository(self, ctx: AccessContext) -> BoundRepository:
        return BoundRepository(self.writer(ctx), self)

    def flush(self) -> None:
        if not self.merge_writes:
            for writer in self._writers:
                writer.flush()
            return
        queues = [(w, ops) for w in self._writers if (ops := w.take_pending())]
        if not queues:
            return
        ops = [op for _, queue in queues for op in queue]
        try:
            seqs = self.tx.write(ops)
        except Conflict as exc:
            self._refused(exc)
            raise
        start = 0
        for writer, queue in queues:
            writer.flushed(queue, seqs[start : start + len(queue)])
            start += len(queue)
        self._deferred.clear()

    def _refused(self, exc: Conflict) -> None:
        """The deferred interactions' writes failed: record them as refused."""
        for at, interaction, ctx in self._deferred:
            if at < len(self.audit):
                self.audit[at] = record_of(
                    interaction,
                    ctx,
                    self.services.clock(),
                    (),
                    status=exc.status,
                    reason=exc.code,
                )
        self._deferred.clear()

    @property
    def committed(self) -> list[StoredVersion]:
        return [v for w in self._writers for v in w.committed]

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the unit that can fail alone (one message of a group commit).

        On an exception the database rolls back to the savepoint, and the writers and
        audit records that part added are dropped with it (whoever retries the part
        records its own); the exception propagates. The queues of the writers opened
        before are flushed first, so their work is kept; a part opens writers of its own.
        """
        self.flush()
        writers, audit = len(self._writers), len(self.audit)
        savepoint = self.tx.conn.begin_nested()
        try:
            yield
            self.flush()
        except BaseException:
            savepoint.rollback()
            del self._writers[writers:]
            del self.audit[audit:]
            self._deferred = [d for d in self._deferred if d[0] < audit]
            raise
        savepoint.commit()


_SQLITE_WRITERS: dict[int, threading.Lock] = {}
_GUARD = threading.Lock()


def _sqlite_writer_lock(services: RecordServices) -> threading.Lock | None:
    """One lock per SQLite engine: SQLite admits one writer at a time, and writers that
    wait on its busy handler sleep in growing steps (up to 100 ms), which gives long,
    unfair tails under concurrent messages; queuing them in-process is fair and faster.
    PostgreSQL writers run in parallel (row locks and advisory locks order them)."""
    if services.store.dialect != "sqlite":
        return None
    key = id(services.store.engine)
    with _GUARD:
        return _SQLITE_WRITERS.setdefault(key, threading.Lock())


@contextmanager
def write_unit(services: RecordServices, *, merge_writes: bool = False) -> Iterator[WriteUnit]:
    """Open a write transaction; commit when the block ends without an exception.
    ``merge_writes``: see the module docstring."""
    lock = _sqlite_writer_lock(services)
    audit = services.audit
    unit: WriteUnit | None = None
    try:
        with lock if lock is not None else nullcontext(), services.store.writer() as tx:
            unit = WriteUnit(services, tx, merge_writes=merge_writes)
            yield unit
            unit.flush()
            if audit is not None:
                for record in unit.audit:  # last statements: they commit with the writes
                    audit.record(tx.conn, record)
    except BaseException:
        if audit is not None and unit is not None:
            for record in unit.audit:  # the writes rolled back; the attempt is still kept
                audit.record_standalone(replace(record, resources=()))
        raise
    versions = unit.committed
    for listener in services.listeners:
        listener.committed(versions)
