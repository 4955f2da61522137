"""Schema migrations with Alembic, driven from code (no alembic.ini needed).

``dmp-gateway migrate`` and the server's start-up both call :func:`upgrade`;
``/readyz`` calls :func:`is_current`.
"""

from __future__ import annotations

from pathlib import Path

from alembic.command import revision as alembic_revision
from alembic.command import upgrade as alembic_upgrade
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The applied revision, read without Alembic's per-call INFO lines (``/readyz`` asks
    often); ``None`` on an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:  # several heads: let Alembic say which (and complain)
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    return rows[0] if rows else None


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    """Apply every pending migration in one transaction per migration run."""
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        alembic_upgrade(config, target)


def autogenerate(engine: Engine, message: str) -> None:  # pragma: no cover - developer tool
    """Write a new revision comparing the database with :mod:`gateway.storage.schema`."""
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        alembic_revision(config, message=message, autogenerate=True)
