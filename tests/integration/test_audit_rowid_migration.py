"""Migration 0010 clusters the audit tree and patient index on their keys (SQLite),
keeping every row, and can be undone."""

from __future__ import annotations

from pathlib import Path

from alembic.command import downgrade
from sqlalchemy import Engine, text

from gateway.audit.merkle import leaf_hash, verify_inclusion
from gateway.storage import audit_nodes, migrate
from gateway.storage.engine import make_engine
from tests.audit_support import append_in_batches, entries, new_log

TABLES = ("audit_node", "audit_patient")


def _ddl(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN (:a, :b)"),
            {"a": TABLES[0], "b": TABLES[1]},
        )
        return {name: sql.upper() for name, sql in rows}


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))) for t in TABLES
        }


def test_the_rows_survive_both_ways_and_proofs_still_verify(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        migrate.upgrade(engine, "0009")
        assert all("WITHOUT ROWID" not in sql for sql in _ddl(engine).values())
        items = entries(37)
        append_in_batches(new_log(engine), items, batch=5)
        before = _rows(engine)
        assert len(before["audit_node"]) > 37 and len(before["audit_patient"]) == 37

        migrate.upgrade(engine)
        assert all("WITHOUT ROWID" in sql for sql in _ddl(engine).values())
        assert _rows(engine) == before
        with engine.connect() as conn:
            root = audit_nodes.root_at(conn, 37)
            proof = audit_nodes.inclusion(conn, 11, 37)
        assert verify_inclusion(leaf_hash(items[11].content), 11, 37, proof, root)

        config = migrate._config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            downgrade(config, "0009")
        assert all("WITHOUT ROWID" not in sql for sql in _ddl(engine).values())
        assert _rows(engine) == before
    finally:
        engine.dispose()
