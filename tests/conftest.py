"""Fixtures shared by every test: real SQLite and PostgreSQL, a real HTTP server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.access.context import AccessContext
from gateway.app import build_services, create_app
from gateway.config import Settings
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage import migrate
from tests.support import (
    LiveServer,
    create_pg_database,
    drop_pg_database,
    empty_database,
    fresh_sqlite,
    migrated_sqlite_template,
    settings_for,
    worker_name,
)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Undo a test's ``configure_logging`` (the CLI commands run in process call it): its
    handler writes to that test's captured stderr, which is closed once the test is over,
    so a server thread of a later test would log into a closed file."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this test worker."""
    name = f"dmpgw_test_{worker_name()}"
    url = create_pg_database(name)
    settings = settings_for("postgresql", Path("/nonexistent"), url)
    services = build_services(settings, audit=False)
    migrate.upgrade(services.store.engine)
    services.store.engine.dispose()
    yield url
    drop_pg_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql":
        request.applymarker(pytest.mark.postgres)
    return name


@pytest.fixture
def settings(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, sqlite_template: Path
) -> Settings:
    """Fresh, migrated storage for one test, on the parametrised back-end."""
    if backend == "postgresql":
        return settings_for("postgresql", tmp_path, request.getfixturevalue("pg_url"))
    fresh_sqlite(sqlite_template, tmp_path)
    return settings_for("sqlite", tmp_path, None)


@pytest.fixture
def services(settings: Settings) -> Iterator[RecordServices]:
    services = build_services(settings)
    empty_database(services.store.engine)
    yield services
    services.store.engine.dispose()


@pytest.fixture
def repo(services: RecordServices) -> Repository:
    return Repository(AccessContext.dev_open(), services)


# -- HTTP: one live server per back-end and worker, emptied before each test ---------------


@pytest.fixture(scope="session")
def _servers(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[dict[str, tuple[LiveServer, Settings]]]:
    started: dict[str, tuple[LiveServer, Settings]] = {}
    try:
        yield started
    finally:
        for server, _ in started.values():
            server.stop()


def _server_for(
    backend: str,
    servers: dict[str, tuple[LiveServer, Settings]],
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> tuple[LiveServer, Settings]:
    if backend not in servers:
        data_dir = tmp_path_factory.mktemp(f"server-{backend}")
        if backend == "postgresql":
            settings = settings_for(backend, data_dir, request.getfixturevalue("pg_url"))
        else:
            fresh_sqlite(sqlite_template, data_dir)
            settings = settings_for(backend, data_dir, None)
        server = LiveServer(create_app(settings))
        server.start()
        servers[backend] = (server, settings)
    return servers[backend]


@pytest.fixture
def server(
    backend: str,
    _servers: dict[str, tuple[LiveServer, Settings]],
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> LiveServer:
    live, _settings = _server_for(backend, _servers, request, tmp_path_factory, sqlite_template)
    empty_database(live.app.state.services.store.engine)
    return live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/fhir", timeout=60) as http:
        yield http
