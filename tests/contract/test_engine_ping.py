"""The PostgreSQL pool's liveness check (gateway.storage.engine.ping_when_idle).

A pooled connection whose server process died is replaced: before use when it sat idle
(the check), else after the statement that met it failed (the pool is invalidated).
Backends are killed for real with ``pg_terminate_backend``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from gateway.storage.engine import make_engine
from tests.support import ADMIN_URL

pytestmark = pytest.mark.postgres


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = create_engine(_psycopg(ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid}).scalar()
    finally:
        admin.dispose()


@pytest.fixture
def engines(pg_url: str) -> Iterator[list[Engine]]:
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def test_an_idle_connection_whose_server_died_is_replaced_before_use(
    pg_url: str, engines: list[Engine]
) -> None:
    engine = make_engine(_psycopg(pg_url), pool_size=2, ping_after_idle=0.0)
    engines.append(engine)
    first = _backend_pid(engine)
    _terminate(first)
    # Checked out again: the check finds it dead and a new connection serves.
    second = _backend_pid(engine)
    assert second != first
    assert _backend_pid(engine) == second  # and it stays in the pool


def test_a_connection_used_moments_ago_is_not_checked_and_the_pool_recovers(
    pg_url: str, engines: list[Engine]
) -> None:
    engine = make_engine(_psycopg(pg_url), pool_size=2, ping_after_idle=3600.0)
    engines.append(engine)
    first = _backend_pid(engine)
    _terminate(first)
    # Not idle long enough to be checked: the statement meets the dead connection...
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    # ...which discards it (and the pool's older connections): the next one is new.
    assert _backend_pid(engine) != first


def test_the_most_recently_returned_connection_serves_first(
    pg_url: str, engines: list[Engine]
) -> None:
    engine = make_engine(_psycopg(pg_url), pool_size=2)
    engines.append(engine)
    with engine.connect() as a, engine.connect() as b:
        pid_a = a.execute(text("SELECT pg_backend_pid()")).scalar_one()
        pid_b = b.execute(text("SELECT pg_backend_pid()")).scalar_one()
    # Leaving the block returns b, then a.
    assert pid_a != pid_b
    assert _backend_pid(engine) == pid_a
    assert _backend_pid(engine) == pid_a
