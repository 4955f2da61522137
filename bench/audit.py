"""Benchmark the audit log as stored and served: SQLite, the CLI verifier, HTTP proofs.

    python -m bench.audit [-n 1000000] [--dir DIR] [--batch 1000] [--proofs 2000]
                          [--reads 2000] [--threads 8] [--postgres ADMIN_URL]

Prints figures, asserts nothing. Three figures have targets (issue 7):

1. ``dmp-gateway audit verify --data-dir --skip-columns`` (the tree) on N entries, pinned
   to one core: < 10 s (the check of the search columns is timed too, on its own line);
2. inclusion proof generation over HTTP, p99: < 5 ms (each request also appends its
   own audit entry, as every auditor read is logged);
3. the audit overhead of a read, i.e. one standalone append, p95: < 2 ms.

The log is built through the real append path (:meth:`AuditLog.append` in writer
transactions of ``--batch`` entries, a checkpoint signed every 1,000) from realistic
BALP entries (:func:`gateway.audit.entries.log_entries`): reads, searches with their
query and several patients, writes, denials, system callers, and emergency accesses
with their security alerts, sealed at rest (AES-256-GCM) as the server writes them, so
the verifier opens every one. ``--dir`` keeps the database for another run (it is
reused when it already holds N entries).
"""

from __future__ import annotations

import argparse
import base64
import http.client as http_client
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.server import cpu_seconds, fresh_postgres, gateway_server
from gateway.access.context import AccessContext, PurposeOfUse
from gateway.audit.checkpoint import parse_checkpoint
from gateway.audit.entries import LogEntry, log_entries
from gateway.audit.events import AuditRecord, ResourceVersion
from gateway.audit.merkle import verify_inclusion
from gateway.config import Settings
from gateway.storage import audit_checkpoints, audit_nodes, migrate
from gateway.storage.audit_log import AuditLog
from gateway.storage.audit_timer import CheckpointTimer
from gateway.storage.engine import WRITE, make_engine
from gateway.storage.keys import open_keys

DAY = 86_400_000_000
START = 1_772_323_200_000_000  # 2026-03-01T00:00:00Z
TYPES = ["Observation", "Condition", "MedicationRequest", "DocumentReference", "Encounter"]


def record(i: int, rng: random.Random) -> AuditRecord:
    """One realistic interaction; the mix is spelled out in the module docstring."""
    roll = rng.random()
    ps = rng.randrange(5000)
    ctx = AccessContext(
        kind="professional",
        client_id=f"lgc-{ps % 40}",
        subject=f"8{10_000_000_000 + ps * 7919:010d}"[:12],
        profession=rng.choice(["10", "21", "40", "50", "60", "69"]),
        structure=f"1{750_000_000 + ps % 500:09d}",
        software=f"Logiciel {ps % 40} 2.{ps % 7}",
        request_id=f"{i:08x}-{rng.getrandbits(64):016x}",
    )
    patient = f"p{rng.randrange(100_000)}"
    rtype = rng.choice(TYPES)
    when = START + i * (30 * DAY // 1_000_000)
    if roll < 0.02:
        modes: list[PurposeOfUse] = ["bris_de_glace", "centre_15"]
        mode = rng.choice(modes)
        ctx = replace(ctx, purpose_of_use=mode, justification="urgence")
    elif roll < 0.04:
        ctx = AccessContext(kind="system", client_id=f"ehpad-{ps % 300}", structure=ctx.structure)
    resource = ResourceVersion(rtype, f"{rng.getrandbits(64):x}", rng.randrange(1, 6))
    if roll < 0.70:
        denied = roll > 0.67
        return AuditRecord(
            "read", ctx, when, 4 if denied else 0, patients=[patient], resources=[resource]
        )
    if roll < 0.85:
        patients = [patient] + [f"p{rng.randrange(100_000)}" for _ in range(rng.randrange(4))]
        query = f"{rtype}?patient={patient}&_count=50&date=ge2026-01-01".encode()
        return AuditRecord("search-type", ctx, when, patients=patients, query=query)
    return AuditRecord(
        rng.choice(["create", "update"]), ctx, when, patients=[patient], resources=[resource]
    )


def percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"p50 {q[49]:6.2f} ms   p95 {q[94]:6.2f} ms   p99 {q[98]:6.2f} ms"


def build(log: AuditLog, n: int, batch: int) -> None:
    have = log.head().size
    if have >= n:
        print(f"reusing a log of {have:,} entries")
        return
    rng = random.Random(9162 + have)
    started = time.perf_counter()
    sizes: list[int] = []
    i, appended = have, 0
    while have + appended < n:
        entries: list[LogEntry] = []
        while len(entries) < batch:
            entries += log_entries(record(i, rng), log.origin)
            i += 1
        entries = entries[: n - have - appended]
        sizes += [len(e.content) for e in entries[:10]]
        with log.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            log.append(conn, entries)
        appended += len(entries)
        if appended % 100_000 < batch:
            rate = appended / (time.perf_counter() - started)
            print(f"  {have + appended:>9,} entries  ({rate:,.0f}/s)", flush=True)
    log.checkpoint()
    seconds = time.perf_counter() - started
    print(
        f"built {appended:,} entries in {seconds:.0f} s ({appended / seconds:,.0f}/s, "
        f"mean entry {statistics.mean(sizes):,.0f} bytes)"
    )


def time_verify(data_dir: Path) -> None:
    keys = data_dir / "auditor-keys.txt"
    exe = str(Path(sys.executable).with_name("dmp-gateway"))
    env = {**os.environ, "GATEWAY_ENV": "dev", "GATEWAY_DATA_DIR": str(data_dir)}
    env.pop("GATEWAY_DATABASE_URL", None)
    keys.write_text(
        subprocess.run(
            [exe, "audit", "keys"], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    # The target is the tree (recompute the root, check every checkpoint); the search
    # columns' check against the entries' bytes is timed on its own line.
    for extra, label, target in (
        (["--skip-columns"], "the tree", "   (target < 10 s)"),
        ([], "tree + search columns", ""),
    ):
        started = time.perf_counter()
        result = subprocess.run(
            [
                *pin,
                exe,
                "audit",
                "verify",
                "--data-dir",
                str(data_dir),
                "--public-key",
                *[str(keys), *extra],
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        core = "(one core) " if pin else ""
        print(f"audit verify --data-dir {core}{label}: {seconds:6.2f} s{target}")
        print(f"  {result.stdout.strip()}")


def time_http_proofs(data_dir: Path, count: int, rng: random.Random) -> None:
    """Proofs over HTTP from two clients in turn: httpx (about 1.4 ms of client CPU per
    request on this machine, on the same two cores as the server) and the standard
    library's keep-alive ``http.client`` (a fraction of that)."""
    # The dev caller's rate limit would turn most of these requests into 429s: off here.
    no_limits = {"GATEWAY_RATE_LIMITS__ENABLED": "false"}
    with (
        gateway_server("sqlite", data_dir=data_dir, extra_env=no_limits) as (url, pid),
        httpx.Client(base_url=url) as http,
    ):
        note = http.get("/audit/checkpoint").text
        cp = parse_checkpoint(note).checkpoint
        first = rng.randrange(cp.size)
        body = http.get("/audit/proof/inclusion", params={"index": first, "size": cp.size}).json()
        proof = [base64.b64decode(h) for h in body["proof"]]
        leaf = base64.b64decode(body["leaf_hash"])
        assert verify_inclusion(leaf, first, cp.size, proof, cp.root), "bad proof"

        def over_httpx(index: int) -> int:
            params = {"index": index, "size": cp.size}
            return http.get("/audit/proof/inclusion", params=params).status_code

        host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80
        lean = http_client.HTTPConnection(host, port)

        def over_stdlib(index: int) -> int:
            lean.request("GET", f"/audit/proof/inclusion?index={index}&size={cp.size}")
            answer = lean.getresponse()
            answer.read()
            return answer.status

        for label, get in (("httpx", over_httpx), ("http.client", over_stdlib)):
            samples: list[float] = []
            failed = 0
            cpu = cpu_seconds(pid)
            for _ in range(count):
                index = rng.randrange(cp.size)
                t0 = time.perf_counter()
                failed += get(index) != 200
                samples.append((time.perf_counter() - t0) * 1000)
            server_cpu = (cpu_seconds(pid) - cpu) / count * 1000
            print(
                f"inclusion proof over HTTP ({label}), size {cp.size:,}: {percentiles(samples)}"
                f"   (target p99 < 5 ms); server CPU {server_cpu:.2f} ms/request"
            )
            if failed:
                print(f"  {failed} of {count} requests did not answer 200")
        lean.close()


def time_in_process_proofs(log: AuditLog, count: int, rng: random.Random) -> None:
    size = log.head().size
    samples: list[float] = []
    with log.engine.connect() as conn:
        for _ in range(count):
            index = rng.randrange(size)
            t0 = time.perf_counter()
            audit_nodes.inclusion(conn, index, size)
            samples.append((time.perf_counter() - t0) * 1000)
    print(f"inclusion proof from SQL (one query):    {percentiles(samples)}")


def time_fsync(directory: Path, count: int = 300) -> None:
    """The floor under a durable commit on this disk: one fdatasync of a small write."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    samples: list[float] = []
    try:
        for _ in range(count):
            os.write(fd, b"x" * 4096)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    print(f"disk: fdatasync of 4 KiB          {percentiles(samples)}")


def time_appends(log: AuditLog, count: int, threads: int, label: str) -> None:
    timer = CheckpointTimer(log)  # as in the server: checkpoints and WAL copies off-path
    timer.start()
    try:
        _time_appends(log, count, threads, label)
    finally:
        timer.stop()


def _time_appends(log: AuditLog, count: int, threads: int, label: str) -> None:
    rng = random.Random(7)
    records = [log_entries(record(i, rng), log.origin) for i in range(count)]
    samples: list[float] = []
    for entries in records:
        t0 = time.perf_counter()
        log.append_standalone(entries)
        samples.append((time.perf_counter() - t0) * 1000)
    print(f"read overhead, one standalone append on {label} (target p95 < 2 ms)")
    print(f"  sequential:      {percentiles(samples)}")
    per_thread = count // threads
    lock = threading.Lock()
    concurrent: list[float] = []

    def worker(mine: list[list[LogEntry]]) -> None:
        local: list[float] = []
        for entries in mine:
            t0 = time.perf_counter()
            log.append_standalone(entries)
            local.append((time.perf_counter() - t0) * 1000)
        with lock:
            concurrent.extend(local)

    started = time.perf_counter()
    pool = [
        threading.Thread(target=worker, args=(records[t * per_thread : (t + 1) * per_thread],))
        for t in range(threads)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    rate = len(concurrent) / (time.perf_counter() - started)
    print(f"  {threads} threads:       {percentiles(concurrent)}   ({rate:,.0f} appends/s)")


def timed(label: str, work: Callable[[], None]) -> None:
    print(f"== {label}", flush=True)
    work()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="keep the database here")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--postgres",
        default=None,
        help="also time appends on PostgreSQL: an admin URL (a fresh database is made)",
    )
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    tmp = None if args.dir else tempfile.TemporaryDirectory(prefix="dmpgw-audit-bench-")
    data_dir = args.dir or Path(tmp.name)  # type: ignore[union-attr]
    settings = Settings(env="dev", data_dir=data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    migrate.upgrade(engine)
    open_keys(engine, settings)  # entries sealed at rest, as the server writes them
    log = AuditLog.from_settings(settings, engine)
    rng = random.Random(1)
    try:
        timed("build the log through the append path", lambda: build(log, args.n, args.batch))
        size_mib = (data_dir / "gateway.sqlite3").stat().st_size / 2**20
        with engine.connect() as conn:
            count = sum(1 for _ in audit_checkpoints.all_notes(conn))
        print(f"database {size_mib:,.0f} MiB, {count:,} checkpoints")
        timed("offline verification", lambda: time_verify(data_dir))
        timed("proofs", lambda: time_in_process_proofs(log, args.proofs, rng))
        timed("proofs over HTTP", lambda: time_http_proofs(data_dir, args.proofs, rng))
        timed("audit overhead per read", lambda: time_fsync(data_dir))
        time_appends(log, args.reads, args.threads, "SQLite")
        if args.postgres:
            url = fresh_postgres(args.postgres, "dmpgw_audit_bench")
            pg = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            migrate.upgrade(pg)
            open_keys(pg, settings)
            pg_log = AuditLog(pg, log.signer.signer, origin=log.origin)
            time_appends(pg_log, args.reads, args.threads, "PostgreSQL")
            pg.dispose()
    finally:
        engine.dispose()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
