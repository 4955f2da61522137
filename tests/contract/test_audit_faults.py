"""A standalone append that cannot commit raises AuditUnavailable (503), for real.

The faults are real database refusals, not mocks: a database that only accepts
reads (SQLite ``query_only``, a PostgreSQL read-only session, as on a hot standby),
and a sequencer lock held by another connection for longer than the append timeout.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event

from gateway.audit.checkpoint import Signer
from gateway.audit.verifier import verify
from gateway.config import Settings
from gateway.record.services import RecordServices
from gateway.storage import audit_checkpoints, audit_reads
from gateway.storage.audit_errors import AuditUnavailable
from gateway.storage.engine import SQLITE_BUSY_TIMEOUT_MS, make_engine
from tests.audit_support import ORIGIN, entries, new_log, sequencer_held


def read_only_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        engine = make_engine(settings.sqlalchemy_url)

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA query_only=ON")

        return engine
    url = settings.sqlalchemy_url + "?options=-c%20default_transaction_read_only%3Don"
    return make_engine(url)


def assert_log_intact(engine: Engine, signer: Signer, size: int) -> None:
    with engine.connect() as conn:
        rows = list(audit_reads.stored_entries(conn))
        notes = list(audit_checkpoints.all_notes(conn))
    assert len(rows) == size
    assert verify(rows, notes, [signer.verifier_key]).ok


def test_a_read_only_database_refuses_the_append(
    settings: Settings, services: RecordServices
) -> None:
    signer = Signer.generate(ORIGIN)
    good = new_log(services.store.engine, signer)
    good.append_standalone(entries(2))
    engine = read_only_engine(settings)
    try:
        refused = new_log(engine, signer)
        with pytest.raises(AuditUnavailable) as caught:
            refused.append_standalone(entries(1, start=2))
        assert caught.value.status == 503 and caught.value.code == "GW-5004"
        assert "no data is returned" in caught.value.diagnostics
    finally:
        engine.dispose()
    assert good.append_standalone(entries(1, start=2)) == [2]
    good.checkpoint()
    assert_log_intact(services.store.engine, signer, 3)


def test_a_held_sequencer_times_out_into_unavailable(
    settings: Settings, services: RecordServices
) -> None:
    signer = Signer.generate(ORIGIN)
    log = new_log(services.store.engine, signer, append_timeout=0.3)
    log.append_standalone(entries(1))
    with sequencer_held(settings), pytest.raises(AuditUnavailable):
        log.append_standalone(entries(1, start=1))
    assert log.append_standalone(entries(1, start=1)) == [1]
    log.checkpoint()
    assert_log_intact(services.store.engine, signer, 2)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_standalone_appends_leave_pooled_sqlite_connections_as_they_were(
    settings: Settings, services: RecordServices
) -> None:
    engine = services.store.engine
    log = new_log(engine)
    for i in range(20):
        log.append_standalone(entries(1, start=i))
    log.wal_checkpoint()
    conns = [engine.connect() for _ in range(8)]  # every pooled connection
    try:
        for conn in conns:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            values = [
                cursor.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("synchronous", "busy_timeout", "wal_autocheckpoint")
            ]
            # FULL (the engine's setting), the engine's timeout, the default
            assert values == [2, SQLITE_BUSY_TIMEOUT_MS, 1000]
    finally:
        for conn in conns:
            conn.close()
