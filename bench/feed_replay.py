"""Change-feed replay: the server's CPU per delivered event, in steady, repeatable rounds.

    python -m bench.feed_replay [--rows 5000] [--consumers 10] [--limit 50]
                                [--backend postgresql|sqlite] [--profile PATH]

Writes ``--rows`` Observations first (nothing else writes afterwards), then
``--consumers`` clients read ``GET /sync/changes?_type=Observation&limit=…`` from the
beginning in lock-step rounds (a barrier: each round they all ask at once, as consumers
woken by the same commit do), until every one is caught up. Prints the server's CPU time
(user + system) per delivered event and per answer. Unlike ``bench.sync`` the page size
and the concurrency do not depend on how busy the machine is, so the figure compares
well between runs on a shared machine. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import signal
import tempfile
import threading
import time
import uuid
from typing import Any

import httpx
import orjson

from bench.server import cpu_seconds, fresh_postgres
from bench.sync import PG_ADMIN, _cursor, _py_spy, analyze, drop_postgres, server, writer_process


def reader(
    url: str, limit: int, barrier: threading.Barrier, counts: list[int], errors: list[str]
) -> None:
    feed = url + "/sync/changes"
    cursor: str | None = None
    with httpx.Client(timeout=120) as http:
        while True:
            params: dict[str, Any] = {"_type": "Observation", "limit": str(limit)}
            if cursor is not None:
                params["cursor"] = cursor
            barrier.wait()
            answer = http.get(feed, params=params)
            if answer.status_code != 200:
                errors.append(f"{answer.status_code}: {answer.text[:300]}")
                barrier.abort()
                return
            page = orjson.loads(answer.content)
            entries = page.get("entry", [])
            counts[0] += len(entries)
            counts[1] += 1
            cursor = _cursor(page)
            if not entries:
                return


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--consumers", type=int, default=10)
    parser.add_argument("--limit", type=int, default=50, help="events per answer")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument(
        "--no-share",
        action="store_true",
        help="GATEWAY_SYNC__FEED_SHARE_READS=false: each feed caller reads alone",
    )
    parser.add_argument("--profile", metavar="PATH", help="py-spy collapsed stacks to PATH")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="dmpgw-bench-replay-") as data_dir:
        env = {
            "GATEWAY_ENV": "dev",
            "GATEWAY_AUTH": "disabled",
            "GATEWAY_DATA_DIR": data_dir,
            "GATEWAY_VALIDATION": "off",
            "GATEWAY_SYNC__STREAM_PREFIX": f"dmpgw-bench-{run}",
            "GATEWAY_SYNC__WORKER_IN_SERVER": "off",
            "GATEWAY_RATE_LIMITS__ENABLED": "false",
            "GATEWAY_SYNC__FEED_SHARE_READS": "false" if args.no_share else "true",
        }
        if args.backend == "postgresql":
            env["GATEWAY_DATABASE_URL"] = fresh_postgres(PG_ADMIN, f"dmpgw_bench_replay_{run}")
        try:
            with server(env) as (url, pid):
                httpx.put(
                    url + "/fhir/Patient/bench",
                    json={"resourceType": "Patient", "id": "bench"},
                    timeout=30,
                ).raise_for_status()
                ctx = mp.get_context("spawn")
                queue = ctx.Queue()
                writer = ctx.Process(
                    target=writer_process,
                    args=(env, 10_000.0, args.rows / 10_000.0, time.time(), queue),
                )
                writer.start()
                written = len(queue.get(timeout=900))
                writer.join()
                analyze(env)
                figures = _replay(url, pid, args)
        finally:
            if args.backend == "postgresql":
                drop_postgres(f"dmpgw_bench_replay_{run}")
    events, answers, cpu, errors = figures
    print(f"machine: {platform.machine()}, Python {platform.python_version()} (shared machine)")
    print(
        f"back-end: {args.backend}, rows: {written}, consumers: {args.consumers},"
        f" limit: {args.limit}, errors: {len(errors)}"
    )
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")
    print(f"delivered: {events} events in {answers} answers")
    print(
        f"server CPU: {cpu:.2f} s, {1e6 * cpu / max(1, events):.1f} µs per delivered event,"
        f" {1e3 * cpu / max(1, answers):.2f} ms per answer"
    )


def _replay(url: str, pid: int, args: argparse.Namespace) -> tuple[int, int, float, list[str]]:
    barrier = threading.Barrier(args.consumers)
    counts = [[0, 0] for _ in range(args.consumers)]
    errors: list[str] = []
    threads = [
        threading.Thread(target=reader, args=(url, args.limit, barrier, counts[i], errors))
        for i in range(args.consumers)
    ]
    start = cpu_seconds(pid)
    spy = _py_spy(pid, args.profile) if args.profile else None
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = cpu_seconds(pid) - start
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    return sum(c[0] for c in counts), sum(c[1] for c in counts), cpu, errors


if __name__ == "__main__":
    main()
