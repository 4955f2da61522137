"""Helpers for the audit log tests: real logs in the test databases, realistic records."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from gateway.access.context import AccessContext
from gateway.audit.checkpoint import Signer
from gateway.audit.entries import LogEntry, log_entries
from gateway.audit.events import AuditRecord, ResourceVersion
from gateway.config import Settings
from gateway.storage.audit_log import AuditLog
from gateway.storage.engine import WRITE

ORIGIN = "audit.test.example/log"
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def professional(i: int, **kw: object) -> AccessContext:
    values: dict[str, object] = {
        "kind": "professional",
        "client_id": f"lgc-{i % 3}",
        "subject": f"81000000000{i % 4}",
        "profession": "10",
        "structure": f"175000000{i % 2}",
        "request_id": f"req-{i}",
        **kw,
    }
    return AccessContext(**values)  # type: ignore[arg-type]


def entries(n: int, *, start: int = 0) -> list[LogEntry]:
    """``n`` realistic entries: reads of ``p<i % 5>``, one every second from T0."""
    out: list[LogEntry] = []
    for i in range(start, start + n):
        rec = AuditRecord(
            interaction="read",
            ctx=professional(i),
            recorded=T0 + i * 1_000_000,
            patients=[f"p{i % 5}"],
            resources=[ResourceVersion("Observation", f"o{i}", 1)],
        )
        out += log_entries(rec, ORIGIN)
    return out


def new_log(engine: Engine, signer: Signer | None = None, **kw: object) -> AuditLog:
    return AuditLog(engine, signer or Signer.generate(ORIGIN), origin=ORIGIN, **kw)  # type: ignore[arg-type]


def append_in_batches(log: AuditLog, items: list[LogEntry], batch: int = 25) -> None:
    """Append in writer transactions of ``batch`` entries, as the repository will."""
    for i in range(0, len(items), batch):
        with log.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            log.append(conn, items[i : i + batch])


def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_ENV": "dev", "GATEWAY_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["GATEWAY_DATABASE_URL"] = settings.database_url
    if settings.crypto.kek is not None:  # the same KEK as the test's services
        env["GATEWAY_CRYPTO__KEK"] = settings.crypto.kek.get_secret_value()
    return env


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``dmp-gateway ARGS`` in a subprocess, against the test database."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_keys(path: Path, *signers: Signer) -> Path:
    path.write_text("".join(s.verifier_key.to_text() + "\n" for s in signers))
    return path


@contextmanager
def sequencer_held(settings: Settings) -> Iterator[None]:
    """Another connection holds the writer lock (SQLite) or the head row (PostgreSQL)."""
    if settings.is_sqlite:
        other = sqlite3.connect(settings.sqlalchemy_url.split("///", 1)[1], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT size FROM audit_head WHERE id = 1 FOR UPDATE"))
            yield
    finally:
        engine.dispose()
