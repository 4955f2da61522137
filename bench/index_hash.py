"""What keyed index hashes (issue 9) cost: extraction, ingestion and identifier searches.

    python -m bench.index_hash [CORPUS] [--backend sqlite|postgresql] [--repeat 2]
                               [--requests 200] [--data DIR]

For each mode (``clear``: ``GATEWAY_CRYPTO__HASH_IDENTIFIERS=false``; ``hashed``: the
default), on a fresh database: index extraction of every corpus resource
(:class:`~gateway.record.indexing.SearchIndexer`, pure), a load of the Synthea corpus
``--repeat`` times through the repository (transactions, as ``POST /fhir``), and
identifier searches through the route table. The two modes are interleaved (round by
round, request by request) and timed in CPU time too, because the machine is shared:
wall-clock differences between two runs there are mostly other people's jobs. Prints
one JSON line per figure, then the overhead of ``hashed`` over ``clear``.
A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.ingest import bundle_files
from bench.search import DEFAULT_CORPUS, call, percentile
from bench.search_corpus import BASE, load
from bench.server import fresh_postgres
from gateway.access.context import AccessContext
from gateway.app import build_services
from gateway.config import Settings
from gateway.fhir.json import loads
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage import migrate
from gateway.storage import schema as s

PG_DB = "dmpgw_bench_index_hash"


def extraction(
    indexers: dict[str, Any], resources: list[dict[str, Any]], rounds: int
) -> dict[str, float]:
    """Median CPU µs per resource to extract (and hash) index rows, modes interleaved."""
    per: dict[str, list[float]] = {m: [] for m in indexers}
    for _ in range(rounds):
        for mode, indexer in indexers.items():
            c0 = time.thread_time()
            for r in resources:
                indexer.rows(r)
            per[mode].append((time.thread_time() - c0) * 1e6 / len(resources))
    return {m: round(statistics.median(v), 2) for m, v in per.items()}


def patients(services: RecordServices, n: int) -> list[dict[str, Any]]:
    with services.store.reader() as tx:
        rows = tx.conn.execute(
            select(s.resource.c.content).where(s.resource.c.resource_type == "Patient")
        ).all()
    bodies = [json.loads(r.content) for r in rows]
    with_ids = [b for b in bodies if b.get("identifier")]
    return random.Random(7).sample(with_ids, min(n, len(with_ids)))


def _ident(p: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in p["identifier"] if i.get("system") and i.get("value"))
    return found


CASES: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "Patient?identifier=system|value": lambda i: (
        "Patient",
        f"identifier={i['system']}|{i['value']}",
    ),
    "Patient?identifier=value": lambda i: ("Patient", f"identifier={i['value']}"),
    "Observation?subject:Patient.identifier=system|value&_count=20": lambda i: (
        "Observation",
        f"subject:Patient.identifier={i['system']}|{i['value']}&_count=20",
    ),
}


def searches(
    repos: dict[str, Repository], people: list[dict[str, Any]], passes: int
) -> list[dict[str, Any]]:
    """CPU and wall ms per request, modes interleaved request by request."""
    out = []
    for name, make in CASES.items():
        requests = [make(_ident(p)) for p in people]
        cpu: dict[str, list[float]] = {m: [] for m in repos}
        wall: dict[str, list[float]] = {m: [] for m in repos}
        for repo in repos.values():
            for path, query in requests[:5]:
                call(repo, path, query)
        for _ in range(passes):
            for path, query in requests:
                for mode, repo in repos.items():
                    t0, c0 = time.perf_counter(), time.thread_time()
                    body = call(repo, path, query)
                    cpu[mode].append((time.thread_time() - c0) * 1000)
                    wall[mode].append((time.perf_counter() - t0) * 1000)
                    if b'"mode":"match"' not in body:
                        raise SystemExit(f"{mode} {name}: no match for {query}")
        row: dict[str, Any] = {"case": name, "n": len(cpu["clear"])}
        for mode in repos:
            row[f"{mode}_cpu_p50_ms"] = round(statistics.median(cpu[mode]), 3)
            row[f"{mode}_wall_p50_ms"] = round(statistics.median(wall[mode]), 3)
            row[f"{mode}_wall_p95_ms"] = round(percentile(wall[mode], 0.95), 3)
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def open_mode(args: argparse.Namespace, mode: str) -> RecordServices:
    values: dict[str, Any] = {
        "env": "dev",
        "auth": "disabled",
        "data_dir": args.data / f"{args.backend}-{mode}",
        "secret_key": "0123456789abcdef" * 4,
        "base_url": BASE,
        "crypto": {"hash_identifiers": mode == "hashed", "index_key": "ab" * 32},
    }
    if args.backend == "postgresql":
        values["database_url"] = fresh_postgres(args.pg_admin, f"{PG_DB}_{mode}")
    else:
        (values["data_dir"] / "gateway.sqlite3").unlink(missing_ok=True)
    services = build_services(Settings(**values))
    migrate.upgrade(services.store.engine)
    return services


def loaded(services: RecordServices, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """Load the corpus; resources per second of wall time and per CPU second."""
    c0 = time.process_time()
    info = load(services, args.corpus, repeat=args.repeat, big=0)
    cpu = time.process_time() - c0
    row = {
        "mode": mode,
        "resources_loaded": info["resources_loaded"],
        "load_per_wall_s": round(info["resources_loaded"] / info["load_seconds"]),
        "load_per_cpu_s": round(info["resources_loaded"] / cpu),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9, help="extraction rounds per mode")
    parser.add_argument("--passes", type=int, default=5, help="passes over the searches")
    parser.add_argument("--data", type=Path, default=Path("var/bench-index-hash"))
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}"
            }
        ),
        flush=True,
    )
    corpus = [
        e["resource"]
        for f in bundle_files([args.corpus])
        for e in loads(f.read_bytes()).get("entry", [])
    ]
    modes = ("clear", "hashed")
    services = {m: open_mode(args, m) for m in modes}
    try:
        ext = extraction({m: services[m].indexer for m in modes}, corpus, args.rounds)
        print(json.dumps({"extract_cpu_us_per_resource": ext}), flush=True)
        loads_ = {m: loaded(services[m], args, m) for m in modes}
        repos = {m: Repository(AccessContext.dev_open(), services[m]) for m in modes}
        rows = searches(repos, patients(services["clear"], args.requests), args.passes)
    finally:
        for svc in services.values():
            svc.store.engine.dispose()
    summary = {
        "extract_cpu_overhead_pct": round(100 * (ext["hashed"] / ext["clear"] - 1), 1),
        "load_cpu_overhead_pct": round(
            100 * (loads_["clear"]["load_per_cpu_s"] / loads_["hashed"]["load_per_cpu_s"] - 1), 1
        ),
        "search_cpu_p50_delta_ms": {
            r["case"]: round(r["hashed_cpu_p50_ms"] - r["clear_cpu_p50_ms"], 3) for r in rows
        },
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
