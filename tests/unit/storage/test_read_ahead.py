"""Read-ahead advice for a sequential scan: how far it asks, and where it does nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from gateway.storage.read_ahead import ReadAhead, sqlite_scan

MIB = 1 << 20


@pytest.fixture
def ten_mib(tmp_path: Path) -> Path:
    path = tmp_path / "file.db"
    path.write_bytes(b"\0" * (10 * MIB))
    return path


def test_it_advises_the_lead_first_then_follows_the_scan_never_past_the_end(
    ten_mib: Path,
) -> None:
    ahead = ReadAhead(ten_mib, rows=100, lead=2 * MIB, step=MIB // 2)
    try:
        assert ahead.advised == 2 * MIB
        ahead.at(10)  # a tenth of the rows: about a tenth of the file, plus the lead
        assert ahead.advised == 3 * MIB
        ahead.at(10)
        assert ahead.advised == 3 * MIB  # nothing new asked
        ahead.at(95)
        assert ahead.advised == 10 * MIB
        ahead.at(100)
        assert ahead.advised == 10 * MIB
    finally:
        ahead.close()


def test_a_lead_larger_than_the_file_asks_for_the_file_only(ten_mib: Path) -> None:
    ahead = ReadAhead(ten_mib, rows=0, lead=64 * MIB, step=3 * MIB)
    try:
        assert ahead.advised == 10 * MIB
    finally:
        ahead.close()


def test_nothing_for_an_in_memory_database() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn, sqlite_scan(conn, 10) as ahead:
        assert ahead is None


def test_a_file_database_gets_advice_for_its_own_file_and_a_map_while_it_lasts(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'g.sqlite3'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.commit()
        with sqlite_scan(conn, 10) as ahead:
            assert ahead is not None
            assert ahead.advised == (tmp_path / "g.sqlite3").stat().st_size
            assert conn.exec_driver_sql("PRAGMA mmap_size").scalar_one() > 0
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 0
    engine.dispose()
