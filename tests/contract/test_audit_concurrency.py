"""Concurrent appenders (threads, engines, processes) never fork the log."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import Engine

from gateway.audit.checkpoint import Signer
from gateway.audit.verifier import verify
from gateway.config import Settings
from gateway.record.services import RecordServices
from gateway.storage import audit_checkpoints, audit_reads
from gateway.storage.audit_log import AuditLog
from gateway.storage.engine import WRITE, make_engine
from tests.audit_support import ORIGIN, entries, new_log

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import sys
from gateway.audit.checkpoint import Signer
from gateway.storage.audit_log import AuditLog
from gateway.storage.engine import make_engine
from tests.audit_support import ORIGIN, entries

url, key, start, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
engine = make_engine(url)
log = AuditLog(engine, Signer.from_text(open(key).read()), origin=ORIGIN, checkpoint_every=25,
               append_timeout=30)
for i in range(start, start + n):
    log.append_standalone(entries(1, start=i))
engine.dispose()
"""


def check_log(engine: Engine, signer: Signer, expected: int) -> None:
    with engine.connect() as conn:
        rows = list(audit_reads.stored_entries(conn))
        notes = list(audit_checkpoints.all_notes(conn))
    assert [seq for seq, _, _ in rows] == list(range(expected))
    contents = {content for _, content, _ in rows}
    assert len(contents) == expected  # every entry once: none lost, none doubled
    verdict = verify(rows, notes, [signer.verifier_key])
    assert verdict.ok, verdict.message
    assert verdict.checkpoints_checked >= expected // 25


def run_threads(target: object, count: int) -> None:
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)  # type: ignore[operator]
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_threads_sharing_an_engine(services: RecordServices) -> None:
    engine = services.store.engine
    signer = Signer.generate(ORIGIN)
    log = new_log(engine, signer, checkpoint_every=25, append_timeout=30)

    def work(i: int) -> None:
        for j in range(30):
            start = i * 1000 + j * 2
            if j % 3:
                log.append_standalone(entries(1, start=start))
            else:  # a write transaction with two entries
                with engine.connect().execution_options(**WRITE) as conn, conn.begin():
                    log.append(conn, entries(2, start=start))

    run_threads(work, 6)
    log.checkpoint()
    check_log(engine, signer, 6 * (20 + 10 * 2))


def test_threads_with_their_own_engines(settings: Settings, services: RecordServices) -> None:
    signer = Signer.generate(ORIGIN)
    engines = [make_engine(settings.sqlalchemy_url, pool_size=2) for _ in range(3)]
    try:
        logs = [new_log(e, signer, checkpoint_every=25, append_timeout=30) for e in engines]

        def work(i: int) -> None:
            for j in range(40):
                logs[i].append_standalone(entries(1, start=i * 1000 + j))

        run_threads(work, 3)
        logs[0].checkpoint()
    finally:
        for e in engines:
            e.dispose()
    check_log(services.store.engine, signer, 120)


def test_separate_processes(settings: Settings, services: RecordServices, tmp_path: Path) -> None:
    signer = Signer.generate(ORIGIN)
    key = tmp_path / "audit.key"
    key.write_text(signer.to_text())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, settings.sqlalchemy_url, str(key), str(i * 1000), "50"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    log = AuditLog(services.store.engine, signer, origin=ORIGIN)
    log.checkpoint()
    check_log(services.store.engine, signer, 150)
