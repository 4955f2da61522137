"""Test support: real databases and a real HTTP server, no mocks.

PostgreSQL: one database per test worker (``dmpgw_test_<worker>``), created at session
start on the server at ``GATEWAY_TEST_POSTGRES_URL`` (default: the loopback server as
user postgres) and emptied before each test. SQLite: a fresh file per test, copied from
a migrated template.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import Engine, create_engine, text

from gateway.config import Settings
from gateway.storage import migrate
from gateway.storage.engine import make_engine
from gateway.storage.schema import metadata

ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_KEK = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def worker_name() -> str:
    """A database name part unique to this checkout and test worker, so that test runs
    of different checkouts on one PostgreSQL server never drop each other's databases."""
    checkout = hashlib.sha256(str(Path(__file__).resolve()).encode()).hexdigest()[:8]
    return f"{checkout}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def create_pg_database(name: str) -> str:
    """(Re)create database ``name``; return its URL. Fails loudly if PostgreSQL is down."""
    admin = create_engine(_psycopg(ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(name: str) -> None:
    admin = create_engine(_psycopg(ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def empty_database(engine: Engine) -> None:
    """Remove every row of every gateway table (schema and migrations stay)."""
    # Data keys stay: a live server caches them, and keys of emptied data are harmless.
    # The type stamp stays too: a live server caches patient facts under it, so it must
    # never go back to a value it had (gateway.record.facts_cache).
    kept = ("data_key", "type_stamp")
    tables = [t.name for t in reversed(metadata.sorted_tables) if t.name not in kept]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


def settings_for(backend: str, data_dir: Path, pg_url: str | None, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "dev",
        "auth": "disabled",
        "data_dir": data_dir,
        "secret_key": SECRET,
        # No background sync worker in test servers: empty_database() truncates under them.
        "sync": {"worker_in_server": "off"},
        # Session servers are shared by many tests: buckets would carry over between
        # them. The rate-limit tests turn limits on for their own servers.
        "rate_limits": {"enabled": False},
        # One KEK for every test process: PostgreSQL databases (and their data keys)
        # outlive a test's data dir, so a per-test generated key file would not fit.
        "crypto": {"kek": TEST_KEK},
        **extra,
    }
    if backend == "postgresql":
        values["database_url"] = pg_url
    return Settings(**values)


def migrated_sqlite_template(directory: Path) -> Path:
    path = directory / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def fresh_sqlite(template: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, data_dir / "gateway.sqlite3")


class LiveServer:
    """A real uvicorn server on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextmanager
def live_server(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
