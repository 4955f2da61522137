"""CSV ingestion benchmark: rows/second through the whole intake pipeline, validation on.

    .venv/bin/python -m bench.ingest_csv [--backend sqlite|postgresql] [--rows 10000]
                                         [--residents 200] [--chunk 200] [--no-freeze]

Generates an EHPAD export pair in the style of ``fixtures/csv``: a roster of
``--residents`` residents (valid INS-NIR keys, local ids) and a vitals export of
``--rows`` rows (one measurement per row, a time of its own, so every row is a new
Observation). Both go through :class:`gateway.intake.Intake` in process, as the demo
EHPAD system (DMP access rules: Group membership), with strict profile validation, on a
fresh database: parse, identity, access, validation, storage, Provenance, ledger.
Prints rows/second for the roster and for the vitals, and the CPU time per row (steadier
than wall-clock figures on a shared machine). A benchmark, not a test.

The search index extraction of :mod:`gateway.search` stands behind the Indexer seam
(the rules find an EHPAD's residents through ``Group.member`` reference rows, which
the interim indexer of this branch does not write), as after the search work is wired
in.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.server import fresh_postgres
from gateway.access.context import AccessContext
from gateway.app import access_rules, build_services, settle_heap
from gateway.auth import demo
from gateway.auth.demo_bundle import demo_transaction
from gateway.config import Settings
from gateway.intake import Intake, sender_for
from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage import migrate

ROOT = Path(__file__).resolve().parents[1]
PARAMETERS = [
    ("Pouls", "{p}", "bpm"),
    ("Température", "37,{d}", "°C"),
    ("SpO2", "9{d}", "%"),
    ("TA", "13{d}/8{d}", "mmHg"),
    ("Poids", "6{d},5", "kg"),
]


def nir(n: int) -> str:
    body = f"{1 + n % 2}{30 + n % 20:02d}{1 + n % 12:02d}75{100 + n % 800:03d}{n % 1000:03d}"
    return body + f"{97 - int(body) % 97:02d}"


def roster(count: int) -> bytes:
    lines = ["N° résident;Nom de naissance;Prénoms;Date de naissance;Sexe;INS;Statut identité"]
    for n in range(count):
        ins = nir(n)
        sex = "M" if ins[0] == "1" else "F"
        born = f"01/{ins[3:5]}/19{ins[1:3]}"
        lines.append(f"B{n:05d};NOM{n};Prénom{n};{born};{sex};{ins};VALI")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def vitals(rows: int, residents: int) -> bytes:
    lines = ["Num. résident;Date;Heure;Paramètre;Valeur;Unité;Soignant;RPPS"]
    start = datetime(2024, 1, 1, 6, 0)
    for n in range(rows):
        at = start + timedelta(minutes=n // residents)
        name, value, unit = PARAMETERS[n % len(PARAMETERS)]
        v = value.format(p=60 + n % 40, d=n % 9 + 1)
        lines.append(
            f"B{n % residents:05d};{at:%d/%m/%Y};{at:%H:%M};{name};{v};{unit};"
            "Camille LEROY;10019876548"
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument(
        "--no-freeze", action="store_true", help="keep the start-up heap in the collector's reach"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dmpgw-csv-") as data_dir:
        values: dict[str, Any] = {"env": "dev", "data_dir": Path(data_dir)}
        if args.backend == "postgresql":
            values["database_url"] = fresh_postgres(
                "postgresql://postgres@127.0.0.1:5432/postgres", "dmpgw_bench_csv"
            )
        settings = Settings(**values)
        services = build_services(settings)
        migrate.upgrade(services.store.engine)
        services.validator.validator.warm()  # type: ignore[attr-defined]
        loader = replace(services, policy=access_rules(settings, trusted_loader=True))
        dispatch(
            FhirRequest("POST", [], resource=demo_transaction(), base="bench"),
            Repository(AccessContext.dev_open(), loader),
        )
        intake = Intake.load(services, chunk_rows=args.chunk)
        if not args.no_freeze:
            settle_heap()  # as the served process (POST /ingest/csv) and the listener do
        sender = sender_for(demo.EHPAD_SYSTEM.context(client_id="demo-ehpad"))
        results = []
        for kind, payload, count in (
            ("residents", roster(args.residents), args.residents),
            ("vitals", vitals(args.rows, args.residents), args.rows),
        ):
            t0, c0 = time.perf_counter(), time.process_time()
            outcome = intake.csv(payload, kind, sender, name=f"bench-{kind}.csv")
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            results.append((kind, count, elapsed, cpu, outcome.counts))
        services.store.engine.dispose()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"back-end: {args.backend}; chunk {args.chunk} rows; validation {settings.validation}")
    for kind, count, elapsed, cpu, counts in results:
        print(
            f"{kind}: {count} rows in {elapsed:.1f} s -> {count / elapsed:.0f} rows/s, "
            f"CPU {cpu / count * 1000:.2f} ms/row {counts}"
        )


if __name__ == "__main__":
    main()
