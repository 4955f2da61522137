"""Database engines for the two supported back-ends.

SQLite (embedded default): one file in the data dir, WAL journal, foreign keys on, a
busy timeout, and ``BEGIN IMMEDIATE`` for every writing transaction so that a read-then-write
never fails on lock upgrade (https://www.sqlite.org/lang_transaction.html). PostgreSQL
(production): psycopg 3 with a connection pool, most recently used connection first, and
a liveness check (``SELECT 1``) of a connection that sat idle in the pool (see
:func:`ping_when_idle`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_PAGE_SIZE = 8192  # bytes, for new databases
"""How long a SQLite statement waits for a lock before the request fails with 503."""

WRITE = {"gateway_write": True}
"""Execution options for a connection that will write: ``BEGIN IMMEDIATE`` on SQLite."""

PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection unused this long is checked before it is handed out."""

_RETURNED_AT = "gateway_returned_at"


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
) -> Engine:
    """Create the engine for ``url`` (``sqlite:///…`` or ``postgresql+psycopg://…``)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # The connection returned last is handed out first: under steady load the same
        # few connections serve (and need no ping), the others stay idle.
        pool_use_lifo=True,
        echo=echo,
    )
    ping_when_idle(engine, ping_after_idle)
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection on checkout when it was returned more than
    ``idle_seconds`` ago: a dead one (the server restarted, a firewall cut it) is then
    replaced, with every pooled connection older than it, before anyone uses it, as
    ``pool_pre_ping`` does. Unlike ``pool_pre_ping``, a connection used within the
    last ``idle_seconds`` is handed out without that round trip (two per feed answer,
    one per write, ~0.3 ms of CPU each between client and server): one that died in
    that moment fails the statement that meets it, which invalidates the pool the same
    way, so the next checkout gets a new connection. A new connection is not checked."""
    clock = time.monotonic

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = clock()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or clock() - returned <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_conn, None):
                # What a failed pre-ping raises: this connection and every older pooled
                # one are discarded, and the checkout is retried with a new connection.
                raise exc.InvalidatePoolError() from error
            raise


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        pool_size=8,
        max_overflow=8,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Before WAL: it only takes effect on a database not yet written, and WAL fixes
        # it for good; older databases keep theirs. Stored JSON (resource versions, audit
        # entries of 2-3 KB) fits one row per 4 KiB page, wasting a third of the file;
        # 8 KiB pages hold three (a million-entry audit log: 4.2 GiB -> 2.9 GiB).
        cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit returns once the WAL is on disk, so what a client was told is
        # stored (201, an HL7 ACK AA) survives a power cut, not only a process crash
        # (NORMAL would lose the last commits). About 0.25 ms per commit on the
        # development VM; reads commit nothing and pay nothing.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front, so a read-then-write never fails on lock
        # upgrade; readers stay DEFERRED and run concurrently under WAL.
        if conn.get_execution_options().get("gateway_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine
