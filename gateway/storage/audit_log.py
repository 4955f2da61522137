"""The SQL audit log: append entries, in the caller's transaction or standalone.

The lead's contract (issue 7): *no response without an audit record*.

- A write and its audit entries commit together: call :meth:`AuditLog.append` (or
  :meth:`AuditLog.record`) on the connection of the write transaction, as its **last**
  statement before commit. It takes the sequencer lock (:mod:`gateway.storage.audit_head`)
  and holds it until the caller commits or rolls back, so appending last keeps the
  lock short and never waits on a lock while holding it.
- A read appends in its own transaction before it returns data:
  :meth:`AuditLog.append_standalone` (or :meth:`AuditLog.record_standalone`). If the
  entry cannot be durably committed it raises
  :class:`~gateway.storage.audit_errors.AuditUnavailable` (503) and the read must
  return no data. On SQLite it commits with ``synchronous=FULL`` (the WAL is synced
  before the commit returns); PostgreSQL commits are durable by default. Concurrent
  standalone appends of one process share a transaction (group commit). On
  PostgreSQL, when the head is still the one this process committed last, that
  transaction is one statement (:mod:`gateway.storage.audit_append_pg`).

Each append stores the entry bytes and their search columns (``audit_entry``,
``audit_patient``), the new complete subtree hashes (``audit_node``) and the new head.
A checkpoint is signed in the same transaction whenever 1,000 entries (setting
``audit.checkpoint_every``) have accumulated since the last one; a timer signs the
rest every 60 seconds (:meth:`AuditLog.checkpoint_if_due`), and the server signs once
more at shutdown (:meth:`AuditLog.checkpoint`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from gateway.audit.checkpoint import Signer
from gateway.audit.entries import LogEntry, log_entries
from gateway.audit.events import AuditRecord
from gateway.audit.merkle import leaf_hash
from gateway.audit.tree import Frontier, Node
from gateway.config import Settings
from gateway.storage.audit_append_pg import append_from
from gateway.storage.audit_checkpoints import CheckpointSigner, StoredCheckpoint
from gateway.storage.audit_errors import AuditIntegrityError, AuditUnavailable
from gateway.storage.audit_group import GroupCommit
from gateway.storage.audit_head import Head, read_head, write_head
from gateway.storage.audit_keys import load_signer
from gateway.storage.audit_nodes import NodeCache
from gateway.storage.audit_rows import EntryRow, entry_row, insert_rows
from gateway.storage.engine import SQLITE_BUSY_TIMEOUT_MS, WRITE
from gateway.storage.sealing import seal_audit

T = TypeVar("T")
log = logging.getLogger("gateway.audit")


def wall_clock() -> int:
    """Now, in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


class AuditLog:
    """The audit log stored in one database (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        signer: Signer,
        *,
        origin: str,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        append_timeout: float = 5.0,
        clock: Callable[[], int] = wall_clock,
    ) -> None:
        self.engine = engine
        self.origin = origin
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.append_timeout = append_timeout
        self.clock = clock
        self.signer = CheckpointSigner(signer, origin, clock)
        self.nodes = NodeCache()  # upper subtree hashes for proofs (they never change)
        self._head: Head | None = None  # the head of this process's last standalone commit
        self._group: GroupCommit[LogEntry] = GroupCommit(self._commit_batch)

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> AuditLog:
        """The log with the configured (or, in dev, generated) signing key."""
        audit = settings.audit
        return cls(
            engine,
            load_signer(settings),
            origin=audit.origin,
            checkpoint_every=audit.checkpoint_every,
            checkpoint_seconds=audit.checkpoint_seconds,
            append_timeout=audit.append_timeout_seconds,
        )

    # -- recording ----------------------------------------------------------------------

    def entries(self, record: AuditRecord) -> list[LogEntry]:
        """The serialised entries of one interaction (REST event, then any alert)."""
        return log_entries(record, self.origin)

    def record(self, conn: Connection, record: AuditRecord) -> list[int]:
        """Append the entries of ``record`` inside the caller's write transaction."""
        return self.append(conn, self.entries(record))

    def record_standalone(self, record: AuditRecord) -> list[int]:
        """Append the entries of ``record`` in their own transaction (for reads)."""
        return self.append_standalone(self.entries(record))

    def append(self, conn: Connection, entries: Sequence[LogEntry]) -> list[int]:
        """Append ``entries`` in order inside the open write transaction of ``conn``.

        Returns their sequence numbers. The sequencer lock is held until the caller's
        transaction ends. On SQLite ``conn`` must be a writer (``BEGIN IMMEDIATE``:
        :data:`gateway.storage.engine.WRITE`). Raises
        :class:`~gateway.storage.audit_errors.AuditIntegrityError` when the stored log
        contradicts itself; the caller must then roll back.
        """
        return self._append(conn, entries)[0] if entries else []

    def _append(self, conn: Connection, entries: Sequence[LogEntry]) -> tuple[list[int], Head]:
        """:meth:`append`, also returning the head it wrote (``entries`` not empty)."""
        if conn.dialect.name == "sqlite" and not conn.get_execution_options().get("gateway_write"):
            raise RuntimeError("audit appends on SQLite need a writer connection (WRITE)")
        head = read_head(conn, lock=True)
        if conn.dialect.name == "postgresql":
            new = self._append_in_one_statement(conn, head, entries)
            if new is not None:
                return list(range(head.size, new.size)), new
        frontier, cp_size = head.frontier, head.checkpoint_size
        first = frontier.size
        rows: list[EntryRow] = []
        patients: list[tuple[str, int]] = []
        nodes: list[Node] = []
        due: list[Frontier] = []
        for entry in entries:
            seq = frontier.size
            leaf = leaf_hash(entry.content)
            frontier, new_nodes = frontier.append(leaf)
            nodes += new_nodes
            rows.append(entry_row(seq, entry, leaf, seal_audit(conn, seq, entry.content)))
            patients += [(p, seq) for p in entry.patients]
            if frontier.size - cp_size >= self.checkpoint_every:
                due.append(frontier)
                cp_size = frontier.size
        try:
            insert_rows(conn, rows, patients, nodes)
        except IntegrityError:
            raise AuditIntegrityError(
                "The audit log head is behind its stored entries; an operator must verify the log"
            ) from None
        # The period runs from the last checkpoint, or from the first entry ever.
        cp_time = head.checkpoint_time or self.clock()
        for tree in due:
            cp_time = self.signer.sign(conn, tree).created
        new = Head(frontier, cp_size, cp_time)
        write_head(conn, new)
        return list(range(first, frontier.size)), new

    def _append_in_one_statement(
        self, conn: Connection, head: Head, entries: Sequence[LogEntry]
    ) -> Head | None:
        """PostgreSQL, with the head locked and read on ``conn``: the rest of the append
        in one statement (:mod:`gateway.storage.audit_append_pg`) instead of four round
        trips, writing the same rows. None when a checkpoint is due (the general path
        signs it)."""
        try:
            return append_from(
                conn,
                head,
                entries,
                checkpoint_every=self.checkpoint_every,
                now=head.checkpoint_time or self.clock(),
            )
        except IntegrityError:
            raise AuditIntegrityError(
                "The audit log head is behind its stored entries; an operator must verify the log"
            ) from None

    def append_standalone(self, entries: Sequence[LogEntry]) -> list[int]:
        """Append ``entries`` in their own transaction and commit durably.

        Concurrent calls share transactions (group commit,
        :mod:`gateway.storage.audit_group`). Waits at most ``append_timeout`` seconds
        for the sequencer. Raises :class:`~gateway.storage.audit_errors.AuditUnavailable`
        if the entries could not be committed: the caller must then fail without
        returning data.
        """
        try:
            return self._group.submit(entries)
        except SQLAlchemyError as exc:
            # The type only: the message would carry the SQL parameters (the entry).
            log.error("audit append failed: %s", type(getattr(exc, "orig", exc)).__name__)
            raise AuditUnavailable(
                "The access could not be recorded in the audit log, so no data is "
                "returned; retry later",
            ) from None
        except AuditIntegrityError as exc:
            raise AuditIntegrityError(exc.diagnostics) from None  # one instance per caller

    # -- checkpoints ----------------------------------------------------------------------

    def checkpoint(self) -> StoredCheckpoint:
        """Sign the current tree now, unless the latest checkpoint already covers it."""

        def sign(conn: Connection) -> StoredCheckpoint:
            head = read_head(conn, lock=True)
            cp = self.signer.sign(conn, head.frontier)
            if cp.size != head.checkpoint_size or cp.created > head.checkpoint_time:
                write_head(conn, Head(head.frontier, cp.size, max(cp.created, 1)))
            return cp

        return self._in_own_transaction(sign)

    def checkpoint_if_due(self) -> StoredCheckpoint | None:
        """Sign if some entries have waited since a checkpoint older than the period."""
        head = self.head()
        age = self.clock() - head.checkpoint_time
        if head.size > head.checkpoint_size and age >= self.checkpoint_seconds * 1e6:
            return self.checkpoint()
        return None

    def head(self) -> Head:
        """The committed head, without locking."""
        with self.engine.connect() as conn:
            return read_head(conn, lock=False)

    def committed_size(self, conn: Connection, *, at_least: int = 0) -> int:
        """A committed tree size: the largest one known, unless ``at_least`` is beyond
        it, in which case the head is read on ``conn``.

        Proofs up to a size this process has seen committed need no head read: the
        log is append-only, so a committed size stays committed.
        """
        known = self.nodes.committed
        if at_least <= known:
            return known
        size = read_head(conn, lock=False).size
        self.nodes.saw_committed(size)
        return size

    def wal_checkpoint(self) -> None:
        """SQLite: copy the WAL into the database now, off the request path.

        Standalone appends turn SQLite's automatic WAL checkpoint off for their own
        commit (it made one read in a hundred pay for copying the WAL, the p99 of the
        audit overhead); the checkpoint timer calls this every tick instead. PASSIVE
        never waits for readers or writers.
        """
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:  # outside any transaction, as it must be
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    cursor.close()

    # -- plumbing -------------------------------------------------------------------------

    def _commit_batch(self, batch: list[LogEntry]) -> list[int]:
        """One group-commit round: the one-statement append when the head is the one
        this process wrote last (PostgreSQL), else the general append."""
        seqs = self._append_on_known_head(batch)
        if seqs is None:
            if not batch:
                return []
            seqs, self._head = self._in_own_transaction(lambda conn: self._append(conn, batch))
        if seqs:  # committed: _in_own_transaction returns after the commit
            self.nodes.saw_committed(seqs[-1] + 1)
        return seqs

    def _append_on_known_head(self, batch: list[LogEntry]) -> list[int] | None:
        head, self._head = self._head, None
        if head is None or not batch or self.engine.dialect.name != "postgresql":
            return None
        try:
            # One statement in autocommit mode is one transaction, and its result comes
            # back only once it is committed (synchronous_commit stays on): durable.
            autocommit = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            with autocommit as conn:
                new = append_from(
                    conn, head, batch, checkpoint_every=self.checkpoint_every, now=self.clock()
                )
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) is None:
                raise  # the connection failed: maybe committed, so never retried (503)
            return None  # the server refused it (e.g. the head is locked): nothing written
        if new is None:
            return None  # the head moved on, or a checkpoint is due: the general append
        self._head = new
        return list(range(head.size, new.size))

    def _in_own_transaction(self, work: Callable[[Connection], T]) -> T:
        timeout_ms = max(1, int(self.append_timeout * 1000))
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect().execution_options(**WRITE) as conn:
            if sqlite:
                # Per-connection settings, outside any transaction: wait for the writer
                # lock only so long, sync the WAL at commit (durable, not just atomic),
                # and leave WAL checkpoints to the timer (wal_checkpoint).
                _pragmas(conn, busy_timeout=timeout_ms, synchronous="FULL", autocheckpoint=0)
            try:
                with conn.begin():
                    if not sqlite:
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")
                    return work(conn)
            finally:
                if sqlite and not conn.invalidated:
                    try:  # back to the engine's defaults (gateway.storage.engine)
                        _pragmas(
                            conn,
                            busy_timeout=SQLITE_BUSY_TIMEOUT_MS,
                            synchronous="FULL",
                            autocheckpoint=1000,
                        )
                    except SQLAlchemyError:
                        conn.invalidate()  # never pool a connection in an unknown state


def _pragmas(conn: Connection, *, busy_timeout: int, synchronous: str, autocheckpoint: int) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout:d}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint:d}")
    finally:
        cursor.close()
