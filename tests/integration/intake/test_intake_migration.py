"""Migration 0006 creates exactly the intake tables of the schema, and can be undone."""

from __future__ import annotations

from pathlib import Path

from alembic.command import downgrade
from sqlalchemy import inspect

from gateway.record.services import RecordServices
from gateway.storage import migrate
from gateway.storage import schema as s
from gateway.storage.engine import make_engine

TABLES = (s.intake_message, s.intake_quarantine)


def _shape(engine: object) -> dict[str, set[tuple[str, bool]]]:
    inspector = inspect(engine)
    return {
        t.name: {(c["name"], bool(c["nullable"])) for c in inspector.get_columns(t.name)}
        for t in TABLES
    }


def test_the_migrated_tables_match_the_schema(services: RecordServices) -> None:
    expected = {t.name: {(c.name, bool(c.nullable)) for c in t.columns} for t in TABLES}
    assert _shape(services.store.engine) == expected
    indexes = {i["name"] for i in inspect(services.store.engine).get_indexes("intake_quarantine")}
    assert indexes == {i.name for i in s.intake_quarantine.indexes}


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        migrate.upgrade(engine)
        config = migrate._config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            downgrade(config, "0005")
        assert "intake_message" not in inspect(engine).get_table_names()
        migrate.upgrade(engine)
        assert {"intake_message", "intake_quarantine"} <= set(inspect(engine).get_table_names())
        assert (migrate.current_revision(engine) or "") >= "0006"  # the head, 0006 or later
    finally:
        engine.dispose()
