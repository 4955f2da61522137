"""Change-feed benchmark: steady writes, N long-polling feed consumers, end-to-end lag.

    python -m bench.sync [--rate 500] [--seconds 20] [--consumers 10]
                         [--backend postgresql|sqlite] [--no-redis] [--validation strict|off]
                         [--client httpx|stdlib]

Starts a fresh ``dmp-gateway serve`` (one process, ``GATEWAY_AUTH=disabled``, Redis
Streams bus unless ``--no-redis``: then the writers' events cannot reach the server and
the consumers only see changes at their long-poll timeout). Writer processes create
Observations through the repository at a steady total rate, publishing change events to
the same Redis; each records the moment its commit returned. Consumers follow
``GET /sync/changes?_type=Observation&wait=30`` from ``start=now``. Prints the lag from
commit to delivery (p50/p95/max over every consumer and event), the write rate achieved
and the events/second delivered, and the CPU time of the writers, of the server and of
the bench database's PostgreSQL backends (writes, feed reads, audit appends). A
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client as http_client
import multiprocessing as mp
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import orjson

from bench.server import cpu_seconds, free_port, fresh_postgres, wait_ready

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
WRITER_THREADS = 4


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def observation(value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/bench"},
        "valueQuantity": {
            "value": value,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def writer_process(
    env: dict[str, str], rate: float, seconds: float, start_at: float, out: Any
) -> None:
    """Write at ``rate`` per second from ``start_at`` for ``seconds``; send (id, commit time)."""
    os.environ.update(env)
    from gateway.access.context import AccessContext
    from gateway.app import build_services
    from gateway.config import Settings
    from gateway.record.repository import Repository
    from gateway.sync.runtime import start_sync

    settings = Settings()
    runtime = start_sync(settings, build_services(settings))
    commits: list[tuple[str, float]] = []
    lock = threading.Lock()
    interval = WRITER_THREADS / rate

    def run(offset: int) -> None:
        repo = Repository(AccessContext.dev_open(), runtime.services)
        due = start_at + offset * interval / WRITER_THREADS
        n = 0
        while due < start_at + seconds:
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            with repo.writing() as w:
                rid = w.create(observation(60 + n % 40)).version.id
            done = time.time()
            with lock:
                commits.append((rid, done))
            due += interval
            n += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITER_THREADS)]
    cpu = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((commits, time.process_time() - cpu))
    runtime.close()
    runtime.services.store.engine.dispose()


Get = Callable[[dict[str, str]], tuple[int, bytes]]
"""One feed request: query parameters in, status and body out."""


@contextmanager
def httpx_feed(url: str) -> Iterator[Get]:
    with httpx.Client(timeout=60) as http:

        def get(query: dict[str, str]) -> tuple[int, bytes]:
            answer = http.get(url + "/sync/changes", params=query)
            return answer.status_code, answer.content

        yield get


@contextmanager
def stdlib_feed(url: str) -> Iterator[Get]:
    """The standard library's keep-alive ``http.client``: a fraction of httpx's client
    CPU, which otherwise competes with the server, the writers and PostgreSQL for the
    same two cores (``--client stdlib``)."""
    parts = urlsplit(url)
    conn = http_client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)

    def get(query: dict[str, str]) -> tuple[int, bytes]:
        try:
            conn.request("GET", "/sync/changes?" + urlencode(query))
            answer = conn.getresponse()
            return answer.status, answer.read()
        except BaseException:
            conn.close()  # the next request reconnects
            raise

    try:
        yield get
    finally:
        conn.close()


FEEDS = {"httpx": httpx_feed, "stdlib": stdlib_feed}


def consumer(
    feed: Callable[[str], AbstractContextManager[Get]],
    url: str,
    stop: threading.Event,
    seen: list[tuple[str, float]],
    errors: list[str],
    requests: list[int],
) -> None:
    with feed(url) as get:
        cursor = _cursor(orjson.loads(get({"start": "now", "_type": "Observation"})[1]))
        while not stop.is_set():
            query = {"cursor": cursor, "_type": "Observation", "wait": "5", "limit": "1000"}
            try:
                status, body = get(query)
            except (httpx.HTTPError, OSError, http_client.HTTPException) as exc:
                errors.append(type(exc).__name__)
                continue
            now = time.time()
            requests[0] += 1
            if status != 200:
                errors.append(f"{status}: {body[:300].decode('utf-8', 'replace')}")
                stop.wait(0.5)
                continue
            page = orjson.loads(body)
            seen.extend((e["resource"]["id"], now) for e in page.get("entry", []))
            cursor = _cursor(page)


def _cursor(bundle: dict[str, Any]) -> str:
    nxt = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    cursor: str = parse_qs(urlsplit(nxt).query)["cursor"][0]
    return cursor


@contextmanager
def server(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    exe = Path(sys.executable).with_name("dmp-gateway")
    log = Path(env["GATEWAY_DATA_DIR"]) / "server.log"
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, seconds=90, log=log)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if "Traceback" in log.read_text():
            print(log.read_text()[-3000:], file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=500.0, help="writes per second (total)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--consumers", type=int, default=10)
    parser.add_argument("--writers", type=int, default=2, help="writer processes")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--validation", choices=["strict", "off"], default="strict")
    parser.add_argument("--warmup", type=int, default=5000, help="rows written before measuring")
    parser.add_argument(
        "--no-share",
        action="store_true",
        help="GATEWAY_SYNC__FEED_SHARE_READS=false: each feed caller reads alone",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="sample the server with py-spy (if installed) while it serves the feed;"
        " write its collapsed stacks to PATH",
    )
    parser.add_argument("--linger-ms", type=int, default=20, help="GATEWAY_SYNC__FEED_LINGER_MS")
    parser.add_argument(
        "--client",
        choices=sorted(FEEDS),
        default="httpx",
        help="the consumers' HTTP client (stdlib: http.client, less client CPU)",
    )
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="dmpgw-bench-sync-") as data_dir:
        env = {
            "GATEWAY_ENV": "dev",
            "GATEWAY_AUTH": "disabled",
            "GATEWAY_DATA_DIR": data_dir,
            "GATEWAY_VALIDATION": args.validation,
            "GATEWAY_SYNC__STREAM_PREFIX": f"dmpgw-bench-{run}",
            "GATEWAY_SYNC__WORKER_IN_SERVER": "off",
            "GATEWAY_SYNC__FEED_LINGER_MS": str(args.linger_ms),
            # The ten consumers share the development caller: its rate limit would time
            # 429 answers (and their retries) as lag.
            "GATEWAY_RATE_LIMITS__ENABLED": "false",
            "GATEWAY_SYNC__FEED_SHARE_READS": "false" if args.no_share else "true",
        }
        if args.backend == "postgresql":
            env["GATEWAY_DATABASE_URL"] = fresh_postgres(PG_ADMIN, f"dmpgw_bench_sync_{run}")
        if not args.no_redis:
            env["GATEWAY_REDIS_URL"] = REDIS
        try:
            with server(env) as (url, pid):
                seen, commits, start_at, write_end, errors, cpu = _run(url, pid, env, args)
        finally:
            if args.backend == "postgresql":
                drop_postgres(f"dmpgw_bench_sync_{run}")
            if not args.no_redis:
                import redis

                client = redis.Redis.from_url(REDIS)
                for key in client.scan_iter(match=f"dmpgw-bench-{run}:*"):
                    client.delete(key)
                client.close()
    _report(args, seen, commits, start_at, write_end, errors, cpu)


def analyze(env: dict[str, str]) -> None:
    url = env.get("GATEWAY_DATABASE_URL")
    if not url:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def drop_postgres(name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(
        PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


Result = tuple[list[list[tuple[str, float]]], dict[str, float], float, float, list[str], float]


def _run(url: str, pid: int, env: dict[str, str], args: argparse.Namespace) -> Result:
    """Consumers first (waiting on the feed), then the writers; wait for the deliveries."""
    httpx.put(
        url + "/fhir/Patient/bench", json={"resourceType": "Patient", "id": "bench"}, timeout=30
    ).raise_for_status()
    ctx = mp.get_context("spawn")
    if args.warmup:  # a record that is not empty, and planner statistics, as in production
        queue = ctx.Queue()
        warm = ctx.Process(
            target=writer_process, args=(env, 10_000.0, args.warmup / 10_000.0, time.time(), queue)
        )
        warm.start()
        queue.get(timeout=600)
        warm.join()
        analyze(env)
    stop = threading.Event()
    seen: list[list[tuple[str, float]]] = [[] for _ in range(args.consumers)]
    errors: list[str] = []
    requests = [[0] for _ in range(args.consumers)]
    readers = [
        threading.Thread(
            target=consumer,
            args=(FEEDS[args.client], url, stop, seen[i], errors, requests[i]),
            daemon=True,
        )
        for i in range(args.consumers)
    ]
    for r in readers:
        r.start()
    time.sleep(2.0)
    queue = ctx.Queue()
    start_at = time.time() + 5.0  # the writer processes start up first
    procs = [
        ctx.Process(
            target=writer_process,
            args=(env, args.rate / args.writers, args.seconds, start_at, queue),
        )
        for _ in range(args.writers)
    ]
    for p in procs:
        p.start()
    # The server's CPU from the writers' start to the last delivery: the feed's cost (the
    # writers are other processes; the server serves nothing else meanwhile).
    cpu_start = cpu_seconds(pid)
    pg = _PostgresCpu(env)
    spy = _py_spy(pid, args.profile) if args.profile else None
    commits: dict[str, float] = {}
    writer_cpu = 0.0
    for _ in procs:
        written, spent = queue.get(timeout=args.seconds + 600)
        commits.update(written)
        writer_cpu += spent
    for p in procs:
        p.join()
    print(
        f"writer CPU: {writer_cpu * 1000 / max(1, len(commits)):.2f} ms per write "
        f"({args.writers} processes of {WRITER_THREADS} threads; repository, validation, "
        "commit, change event)"
    )
    deadline = time.time() + 30
    while time.time() < deadline and any(len({i for i, _ in s}) < len(commits) for s in seen):
        time.sleep(0.2)
    cpu = cpu_seconds(pid) - cpu_start
    spent = pg.stop()
    if spent is not None:
        print(
            f"PostgreSQL CPU: {spent:.1f} s, {spent * 1000 / max(1, len(commits)):.2f} ms per write"
            " (the bench database's backends: the writes and the feed's reads)"
        )
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
        spy.wait(timeout=60)
    stop.set()
    polls = sum(r[0] for r in requests)
    errors.extend([] if polls else ["no poll answered"])
    print(
        f"feed answers: {polls} ({polls / max(1, len(commits)) * 1:.2f} per write, all consumers)"
    )
    return seen, commits, start_at, max(commits.values()), errors, cpu


class _PostgresCpu:
    """The CPU time of the PostgreSQL backends connected to the bench database, from now
    to :meth:`stop`: read every half second (the writers' backends end with them, so
    what one used after its last reading is missed), and once at the start."""

    def __init__(self, env: dict[str, str]) -> None:
        self._name = env.get("GATEWAY_DATABASE_URL", "").rsplit("/", 1)[-1]
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        from sqlalchemy import create_engine

        self._engine = create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1))
        if "GATEWAY_DATABASE_URL" in env:
            self._start = self._read()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _read(self) -> dict[int, float]:
        from sqlalchemy import text

        with self._engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": self._name}
            ).scalars()
            found = {}
            for backend in pids:
                with contextlib.suppress(FileNotFoundError, PermissionError):
                    found[int(backend)] = cpu_seconds(int(backend))
            return found

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._last.update(self._read())

    def stop(self) -> float | None:
        """Seconds of CPU used since the start, or None without PostgreSQL."""
        if self._thread is None:
            self._engine.dispose()
            return None
        self._stop.set()
        self._thread.join()
        self._last.update(self._read())
        self._engine.dispose()
        return sum(t - self._start.get(backend, 0.0) for backend, t in self._last.items())


def _py_spy(pid: int, path: str) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [
            str(exe),
            "record",
            "-p",
            str(pid),
            "-o",
            path,
            "-f",
            "raw",
            "-r",
            "200",
            "--gil",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _report(
    args: argparse.Namespace,
    seen: list[list[tuple[str, float]]],
    commits: dict[str, float],
    start_at: float,
    write_end: float,
    errors: list[str],
    cpu: float,
) -> None:
    lags: list[float] = []
    delivered = 0
    last_delivery = start_at
    for per_consumer in seen:
        first_seen: dict[str, float] = {}
        for rid, at in per_consumer:
            first_seen.setdefault(rid, at)
        for rid, at in first_seen.items():
            if rid in commits:
                delivered += 1
                lags.append((at - commits[rid]) * 1000)
                last_delivery = max(last_delivery, at)
    span = write_end - start_at
    print(
        f"machine: {platform.machine()} x{os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" load average {os.getloadavg()[0]:.2f} (shared machine)"
    )
    bus = "in-process (no Redis)" if args.no_redis else "Redis Streams"
    print(
        f"back-end: {args.backend}, bus: {bus}, consumers' client: {args.client},"
        f" validation: {args.validation}, consumers: {args.consumers}, linger: {args.linger_ms} ms"
    )
    achieved = len(commits) / span
    print(f"writes: {len(commits)} in {span:.1f} s = {achieved:.0f}/s (target {args.rate:.0f}/s)")
    expected = len(commits) * args.consumers
    print(
        f"delivered: {delivered} of {expected} ({100 * delivered / max(1, expected):.1f} %),"
        f" duplicates seen: {sum(len(s) for s in seen) - delivered}, errors: {len(errors)}"
    )
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")
    if lags:
        print(
            f"lag commit→delivery: p50 {statistics.median(lags):.0f} ms,"
            f" p95 {percentile(lags, 0.95):.0f} ms, max {max(lags):.0f} ms"
        )
        rate = delivered / max(1e-9, last_delivery - start_at)
        print(f"events/second delivered (all consumers): {rate:.0f}")
    print(
        f"server CPU: {cpu:.1f} s, {1e6 * cpu / max(1, delivered):.0f} µs per delivered event"
        " (user + system, the whole server process)"
    )


if __name__ == "__main__":
    main()
