"""The repository bound to one caller: the only way any layer above reaches storage.

Access rules are enforced here and nowhere else (DESIGN.md). A unit of work is one
database transaction; nested ``writing()``/``reading()`` calls inside an open unit join
it, which is how a FHIR transaction Bundle runs many interactions atomically.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway.access.context import AccessContext
from gateway.record.reader import RecordReader
from gateway.record.services import RecordServices
from gateway.record.writer import RecordWriter


class Repository:
    def __init__(self, ctx: AccessContext, services: RecordServices) -> None:
        self.ctx = ctx
        self.services = services
        self._open: RecordWriter | RecordReader | None = None

    @contextmanager
    def reading(self) -> Iterator[RecordReader]:
        """A read transaction, or the unit of work already open."""
        if self._open is not None:
            yield self._open
            return
        with self.services.store.reader() as tx:
            reader = RecordReader(self.ctx, self.services, tx)
            self._open = reader
            try:
                yield reader
            finally:
                self._open = None

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
        with self.services.store.writer() as tx:
            writer = RecordWriter(self.ctx, self.services, tx)
            self._open = writer
            try:
                yield writer
                writer.flush()
            finally:
                self._open = None
        for listener in self.services.listeners:
            listener.committed(writer.committed)
