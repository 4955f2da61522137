"""New SQLite databases use 8 KiB pages; a database made with other pages keeps them and
keeps working (SQLite cannot change the page size of a WAL database)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from gateway.storage import migrate
from gateway.storage.engine import SQLITE_PAGE_SIZE, make_engine


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        size: int = conn.execute("PRAGMA page_size").fetchone()[0]
    return size


def test_a_new_database_gets_the_gateway_page_size(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    assert SQLITE_PAGE_SIZE == 8192
    assert _page_size(path) == SQLITE_PAGE_SIZE


def test_an_older_database_keeps_its_pages_and_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # as SQLite's default made it: 4 KiB, WAL
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE kept (v TEXT)")
        conn.execute("INSERT INTO kept VALUES ('x')")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO kept VALUES ('y')"))
        with engine.connect() as conn:
            rows = [r[0] for r in conn.execute(text("SELECT v FROM kept ORDER BY v"))]
    finally:
        engine.dispose()
    assert rows == ["x", "y"]
    assert _page_size(path) == 4096
