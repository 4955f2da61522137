"""Database engines for the two supported back-ends.

SQLite (embedded default): one file in the data dir, WAL journal, foreign keys on, a
busy timeout, and ``BEGIN IMMEDIATE`` for every writing transaction so that a read-then-write
never fails on lock upgrade (https://www.sqlite.org/lang_transaction.html). PostgreSQL
(production): psycopg 3 with a connection pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_PAGE_SIZE = 8192  # bytes, for new databases
"""How long a SQLite statement waits for a lock before the request fails with 503."""

WRITE = {"gateway_write": True}
"""Execution options for a connection that will write: ``BEGIN IMMEDIATE`` on SQLite."""


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create the engine for ``url`` (``sqlite:///…`` or ``postgresql+psycopg://…``)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        echo=echo,
    )


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
