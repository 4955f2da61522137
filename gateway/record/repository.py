"""The repository bound to one caller: the only way any layer above reaches storage.

Access rules are enforced here and nowhere else (DESIGN.md). A unit of work is one
database transaction; nested ``writing()``/``reading()`` calls inside an open unit join
it, which is how a FHIR transaction Bundle runs many interactions atomically.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway.access.context import AccessContext
from gateway.record.audit_trail import Interaction, record_of
from gateway.record.reader import RecordReader
from gateway.record.services import RecordServices
from gateway.record.writer import RecordWriter


class Repository:
    def __init__(self, ctx: AccessContext, services: RecordServices) -> None:
        self.ctx = ctx
        self.services = services
        self._open: RecordWriter | RecordReader | None = None
        # Set by the REST layer for the interaction being served; None: not audited
        # (internal loaders such as the demo record).
        self.interaction: Interaction | None = None
        # Patients of what the last failed unit of work refused (RecordReader.refused).
        self._refused: list[str] = []

    def record_failure(self, status: int, code: str) -> None:
        """Record a refused or failed interaction (no unit of work is open any more),
        naming the patients of what was refused by id (a read of a hidden resource, a
        write the rules deny) so that the attempt shows in their access logs."""
        audit, interaction = self.services.audit, self.interaction
        if audit is None or interaction is None or self._open is not None:
            return
        record = record_of(
            interaction,
            self.ctx,
            self.services.clock(),
            (),
            status=status,
            reason=code,
            patients=self._refused,
        )
        self._refused = []
        audit.record_standalone(record)

    @contextmanager
    def reading(self) -> Iterator[RecordReader]:
        """A read transaction, or the unit of work already open."""
        if self._open is not None:
            yield self._open
            return
        self._refused = []
        with self.services.store.reader() as tx:
            reader = RecordReader(self.ctx, self.services, tx)
            self._open = reader
            try:
                yield reader
            except BaseException:
                self._refused = reader.refused
                raise
            finally:
                self._open = None
        audit, interaction = self.services.audit, self.interaction
        if audit is not None and interaction is not None:
            # Durable before the answer leaves: a failure here is a 503 with no data.
            audit.record_standalone(
                record_of(interaction, self.ctx, self.services.clock(), reader.disclosed)
            )

    @contextmanager
    def writing(self) -> Iterator[RecordWriter]:
        """A write transaction (one unit of work), or the one already open.

        Queued writes are flushed before commit; listeners hear about the committed
        versions only after the commit succeeded.
        """
        if isinstance(self._open, RecordWriter):
            yield self._open
            return
        if self._open is not None:
            raise RuntimeError("cannot write inside a read-only unit of work")
        self._refused = []
        with self.services.store.writer() as tx:
            writer = RecordWriter(self.ctx, self.services, tx)
            self._open = writer
            try:
                try:
                    yield writer
                except BaseException:
                    self._refused = writer.refused
                    raise
                writer.flush()
                audit, interaction = self.services.audit, self.interaction
                if audit is not None and interaction is not None:
                    # Last statement of the transaction: the write and its record commit
                    # together (the log's sequencer is held until the commit).
                    versions = [*writer.committed, *writer.disclosed]
                    audit.record(
                        tx.conn, record_of(interaction, self.ctx, self.services.clock(), versions)
                    )
            finally:
                self._open = None
        for listener in self.services.listeners:
            listener.committed(writer.committed)
