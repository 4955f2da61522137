"""Search benchmark: latency and throughput of the issue's search cases at scale.

    python -m bench.search [CORPUS] [--backend sqlite|postgresql] [--repeat 14]
                           [--requests 300] [--data DIR] [--reuse] [--pg-admin URL]

Loads CORPUS (default ``../shared/corpora/synthea``) ``--repeat`` times through the
repository (see :mod:`bench.search_corpus`; 14 repeats pass 100,000 resources), then
times each case in process through the FHIR route table (``dispatch``: parsing, SQL,
access filtering, Bundle serialisation; no HTTP) and, with ``--http``, again through a
``dmp-gateway serve`` process, one request at a time. It prints p50/p95/p99 latency,
the median CPU time of the benchmark process and requests/second per case. ``--reuse``
keeps the database of a previous run (SQLite file in ``--data``, PostgreSQL database
``dmpgw_bench_search``).
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
import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.search_corpus import BASE, load
from bench.search_http import Fetch, serving
from bench.server import fresh_postgres
from gateway.access.context import AccessContext
from gateway.app import build_services
from gateway.config import Settings
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage import migrate
from gateway.storage import schema as s

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = (
    next(
        (p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()),
        ROOT.parent / "shared",
    )
    / "corpora"
    / "synthea"
)
PG_DB = "dmpgw_bench_search"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def call(repo: Repository, path: str, query: str = "") -> bytes:
    """One interaction through the route table; the body as the server would send it."""
    req = FhirRequest(
        "GET",
        [urllib.parse.unquote(p) for p in path.split("/")],
        query=urllib.parse.parse_qsl(query, keep_blank_values=True),
        base=BASE,
    )
    response = dispatch(req, repo)
    if response.status != 200:
        raise SystemExit(f"{path}?{query}: {response.status} {(response.body or b'')[:300]!r}")
    return response.body or b""


def get(repo: Repository, path: str, query: str = "") -> dict[str, Any]:
    out: dict[str, Any] = json.loads(call(repo, path, query))
    return out


def summary(name: str, latencies: list[float], cpu: list[float], **extra: Any) -> dict[str, Any]:
    """Wall-clock percentiles, and the median CPU time of this process per request (the
    machine is shared: CPU time shows our own cost when other jobs compete)."""
    row = {
        "case": name,
        "n": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "cpu_p50_ms": round(statistics.median(cpu), 2),
        **extra,
        "req_per_s": round(len(latencies) / (sum(latencies) / 1000), 1),
    }
    print(json.dumps(row), flush=True)
    return row


def timed(fetch: Fetch, name: str, requests: list[tuple[str, str]]) -> dict[str, Any]:
    for path, query in requests[:5]:  # warm caches and plans
        fetch(path, query)
    latencies, cpu = [], []
    for path, query in requests:
        t0, c0 = time.perf_counter(), time.thread_time()
        fetch(path, query)
        latencies.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return summary(name, latencies, cpu)


def targets(services: RecordServices, repo: Repository, n: int) -> dict[str, Any]:
    """Patients to query, with one of their frequent Observation codes and a name."""
    r = s.resource
    with services.store.engine.connect() as conn:
        counts = conn.execute(
            select(r.c.patient_id, func.count())
            .where(r.c.patient_id.is_not(None))
            .group_by(r.c.patient_id)
            .order_by(func.count().desc())
        ).all()
        observations = conn.execute(
            select(r.c.resource_type, r.c.id).where(r.c.resource_type == "Observation").limit(5000)
        ).all()
    rng = random.Random(7)
    pids = [p for p, _ in counts]
    picked = rng.sample(pids, min(n, len(pids)))
    people = []
    for pid in picked:
        patient = get(repo, f"Patient/{pid}")
        obs = get(repo, "Observation", f"subject=Patient/{pid}&_count=200&_elements=code")
        codes = [
            c["code"]
            for e in obs.get("entry", [])
            if e["search"]["mode"] == "match"
            for c in e["resource"]["code"].get("coding", [])[:1]
        ]
        code = max(set(codes), key=codes.count) if codes else "8302-2"
        people.append(
            {
                "id": pid,
                "code": code,
                "family": patient["name"][0]["family"],
                "birthDate": patient["birthDate"],
            }
        )
    return {
        "people": people,
        "largest": (counts[0][0], counts[0][1]),
        "reads": [f"{t}/{i}" for t, i in rng.sample(observations, min(n, len(observations)))],
    }


def run_cases(fetch: Fetch, t: dict[str, Any], deep_pages: int) -> list[dict[str, Any]]:
    people = t["people"]
    big, big_size = t["largest"]
    obs = "Observation?subject&code&date=ge&_sort=-date&_count=50"
    rows = [
        timed(fetch, "read by id", [(p, "") for p in t["reads"]]),
        timed(
            fetch,
            obs,
            [
                (
                    "Observation",
                    f"subject=Patient/{p['id']}&code={p['code']}&date=ge2000-01-01"
                    "&_sort=-date&_count=50",
                )
                for p in people
            ],
        ),
        timed(
            fetch,
            "Encounter?patient&_revinclude=Observation:encounter",
            [("Encounter", f"patient={p['id']}&_revinclude=Observation:encounter") for p in people],
        ),
        timed(
            fetch,
            "Patient?name&birthdate",
            [("Patient", f"name={p['family']}&birthdate={p['birthDate']}") for p in people],
        ),
        timed(
            fetch,
            "Patient/{id}/$everything (_count=1000)",
            [(f"Patient/{p['id']}/$everything", "_count=1000") for p in people],
        ),
        timed(
            fetch,
            f"Patient/{{id}}/$everything, largest record ({big_size} resources)",
            [(f"Patient/{big}/$everything", "_count=1000")] * 30,
        ),
    ]
    rows.append(deep_walk(fetch, deep_pages))
    return rows


def deep_walk(fetch: Fetch, pages: int) -> dict[str, Any]:
    """Follow ``next`` links of ``Observation?_count=100`` for ``pages`` pages."""
    latencies, cpu = [], []
    query = "_count=100"
    seen = 0
    for _ in range(pages):
        t0, c0 = time.perf_counter(), time.thread_time()
        body = fetch("Observation", query)
        latencies.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        page = json.loads(body)
        seen += len(page.get("entry", []))
        nxt = [lk["url"] for lk in page["link"] if lk["relation"] == "next"]
        if not nxt:
            break
        query = urllib.parse.urlsplit(nxt[0]).query
    name = f"deep paging walk, Observation?_count=100 ({len(latencies)} pages, {seen} res.)"
    return summary(name, latencies, cpu, last_page_ms=round(latencies[-1], 2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=14)
    parser.add_argument("--requests", type=int, default=300, help="patients queried per case")
    parser.add_argument("--deep-pages", type=int, default=300)
    parser.add_argument("--big", type=int, default=1000, help="resources of the largest record")
    parser.add_argument("--data", type=Path, default=Path("var/bench-search"))
    parser.add_argument("--reuse", action="store_true", help="keep a previously loaded database")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--http", action="store_true", help="also time the cases over HTTP (dmp-gateway serve)"
    )
    args = parser.parse_args()

    values: dict[str, Any] = {
        "env": "dev",
        "auth": "disabled",
        "data_dir": args.data / args.backend,
        "secret_key": "0123456789abcdef" * 4,
        "base_url": BASE,
    }
    if args.backend == "postgresql":
        url = args.pg_admin.rsplit("/", 1)[0] + f"/{PG_DB}"
        values["database_url"] = url if args.reuse else fresh_postgres(args.pg_admin, PG_DB)
    elif not args.reuse:
        (args.data / args.backend / "gateway.sqlite3").unlink(missing_ok=True)
    services = build_services(Settings(**values))
    migrate.upgrade(services.store.engine)
    repo = Repository(AccessContext.dev_open(), services)
    info: dict[str, Any] = {"backend": args.backend}
    if not args.reuse:
        info |= load(services, args.corpus, repeat=args.repeat, big=args.big)
        if args.backend == "postgresql":  # what autovacuum does after a bulk load
            with services.store.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
    with services.store.engine.connect() as conn:
        info["resources_stored"] = conn.execute(
            select(func.count()).select_from(s.resource)
        ).scalar()
    info["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(json.dumps(info), flush=True)
    chosen = targets(services, repo, args.requests)
    print(json.dumps({"mode": "in process (route table, no HTTP)"}), flush=True)
    run_cases(lambda path, query: call(repo, path, query), chosen, args.deep_pages)
    services.store.engine.dispose()
    if args.http:
        env = {
            "GATEWAY_ENV": "dev",
            "GATEWAY_AUTH": "disabled",
            "GATEWAY_DATA_DIR": str(values["data_dir"]),
            "GATEWAY_SECRET_KEY": values["secret_key"],
            "GATEWAY_BASE_URL": BASE,
        }
        if "database_url" in values:
            env["GATEWAY_DATABASE_URL"] = values["database_url"]
        with serving(env) as fetch:
            print(json.dumps({"mode": "HTTP, one uvicorn worker"}), flush=True)
            run_cases(fetch, chosen, args.deep_pages)


if __name__ == "__main__":
    main()
