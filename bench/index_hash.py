"""What keyed index hashes (issue 9) cost: extraction, ingestion and identifier searches.

    python -m bench.index_hash [CORPUS] [--backend sqlite|postgresql] [--repeat 2]
                               [--requests 200] [--data DIR]

For each mode (``clear``: ``GATEWAY_CRYPTO__HASH_IDENTIFIERS=false``; ``hashed``: the
default), on a fresh database: times index extraction of every corpus resource
(:class:`~gateway.record.indexing.SearchIndexer`, pure), loads the Synthea corpus
``--repeat`` times through the repository (transactions, as ``POST /fhir``), then times
identifier searches through the route table. Prints one JSON line per figure and the
overhead of ``hashed`` over ``clear``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
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


def extraction(services: RecordServices, resources: list[dict[str, Any]], rounds: int) -> float:
    """Median µs per resource to extract (and hash) index rows."""
    per: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for r in resources:
            services.indexer.rows(r)
        per.append((time.perf_counter() - t0) * 1e6 / len(resources))
    return statistics.median(per)


def patients(services: RecordServices, n: int) -> list[dict[str, Any]]:
    with services.store.reader() as tx:
        rows = tx.conn.execute(
            select(s.resource.c.content).where(s.resource.c.resource_type == "Patient")
        ).all()
    bodies = [json.loads(r.content) for r in rows]
    with_ids = [b for b in bodies if b.get("identifier")]
    return random.Random(7).sample(with_ids, min(n, len(with_ids)))


def timed(repo: Repository, name: str, requests: list[tuple[str, str]]) -> dict[str, Any]:
    for path, query in requests[:5]:
        call(repo, path, query)
    latencies = []
    for path, query in requests:
        t0 = time.perf_counter()
        body = call(repo, path, query)
        latencies.append((time.perf_counter() - t0) * 1000)
        if b'"mode":"match"' not in body:
            raise SystemExit(f"{name}: no match for {query}")
    return {
        "case": name,
        "n": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(percentile(latencies, 0.95), 3),
    }


def searches(repo: Repository, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def ident(p: dict[str, Any]) -> dict[str, Any]:
        return next(i for i in p["identifier"] if i.get("system") and i.get("value"))

    return [
        timed(
            repo,
            "Patient?identifier=system|value",
            [("Patient", f"identifier={ident(p)['system']}|{ident(p)['value']}") for p in people],
        ),
        timed(
            repo,
            "Patient?identifier=value",
            [("Patient", f"identifier={ident(p)['value']}") for p in people],
        ),
        timed(
            repo,
            "Observation?subject:Patient.identifier=system|value&_count=20",
            [
                (
                    "Observation",
                    f"subject:Patient.identifier={ident(p)['system']}|{ident(p)['value']}"
                    "&_count=20",
                )
                for p in people
            ],
        ),
    ]


def run_mode(args: argparse.Namespace, mode: str, corpus: list[dict[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "env": "dev",
        "auth": "disabled",
        "data_dir": args.data / f"{args.backend}-{mode}",
        "secret_key": "0123456789abcdef" * 4,
        "base_url": BASE,
        "crypto": {"hash_identifiers": mode == "hashed", "index_key": "ab" * 32},
    }
    if args.backend == "postgresql":
        values["database_url"] = fresh_postgres(args.pg_admin, PG_DB)
    else:
        (values["data_dir"] / "gateway.sqlite3").unlink(missing_ok=True)
    services = build_services(Settings(**values))
    migrate.upgrade(services.store.engine)
    try:
        out: dict[str, Any] = {"mode": mode, "backend": args.backend}
        out["extract_us_per_resource"] = round(extraction(services, corpus, 5), 2)
        loaded = load(services, args.corpus, repeat=args.repeat, big=0)
        out["resources_loaded"] = loaded["resources_loaded"]
        out["load_resources_per_s"] = round(loaded["resources_loaded"] / loaded["load_seconds"])
        repo = Repository(AccessContext.dev_open(), services)
        out["searches"] = searches(repo, patients(services, args.requests))
    finally:
        services.store.engine.dispose()
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200)
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
    results = {m: run_mode(args, m, corpus) for m in ("clear", "hashed")}
    clear, hashed = results["clear"], results["hashed"]
    overhead = {
        "extract_overhead_pct": round(
            100 * (hashed["extract_us_per_resource"] / clear["extract_us_per_resource"] - 1), 1
        ),
        "load_overhead_pct": round(
            100 * (1 - hashed["load_resources_per_s"] / clear["load_resources_per_s"]), 1
        ),
        "search_p50_delta_ms": {
            c["case"]: round(h["p50_ms"] - c["p50_ms"], 3)
            for c, h in zip(clear["searches"], hashed["searches"], strict=True)
        },
    }
    print(json.dumps(overhead), flush=True)


if __name__ == "__main__":
    main()
