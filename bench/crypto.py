"""Encryption-at-rest benchmark (issue 9): the cost of sealing, and key rotation speed.

    python -m bench.crypto [--resources N] [--patients P] [--reads R] [--keys K]
                           [--backend sqlite|postgresql]

In process, through the record services (no HTTP): writes N Observations spread over P
patients with encryption on and off and prints throughput (resources/s), then R reads
by id and their p50/p95 latency, and the overhead. Then K data keys are created and
re-wrapped under a new KEK (``Keyring.rewrap``, the work of ``keys rotate``), and the
re-wrap rate is printed with its extrapolation to 1,000,000 keys. A benchmark, not a test.

``--backend postgresql`` needs ``BENCH_PG_URL``: a database of its own, which it migrates
and fills (e.g. ``createdb dmpgw_bench_crypto``, then
``BENCH_PG_URL=postgresql://postgres@127.0.0.1:5432/dmpgw_bench_crypto``).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from gateway.access.context import AccessContext
from gateway.app import build_services
from gateway.config import Settings
from gateway.crypto.kek import KekFile, kek_path, new_data_key
from gateway.record.repository import Repository
from gateway.storage import migrate
from gateway.storage import schema as s
from gateway.storage.keys import _context, keyring_of


def _settings(data_dir: Path, backend: str, encrypt: bool) -> Settings:
    values: dict[str, object] = {
        "env": "dev",
        "auth": "disabled",
        "data_dir": data_dir,
        "crypto": {"encrypt": encrypt},
        "sync": {"worker_in_server": "off"},
    }
    if backend == "postgresql":
        values["database_url"] = os.environ["BENCH_PG_URL"]
    return Settings(**values)  # type: ignore[arg-type]


def _observation(pid: str, i: int) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}], "text": "weight"},
        "subject": {"reference": f"Patient/{pid}"},
        "valueQuantity": {"value": 60 + i % 40, "unit": "kg"},
        "note": [{"text": f"note {i} " + "x" * 200}],
    }


def run(
    backend: str, encrypt: bool, n: int, patients: int, reads: int
) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), backend, encrypt)
        services = build_services(settings)
        migrate.upgrade(services.store.engine)
        repo = Repository(AccessContext.dev_open(), services)
        pids = []
        for p in range(patients):
            with repo.writing() as w:
                pids.append(
                    w.create({"resourceType": "Patient", "name": [{"family": f"P{p}"}]}).version.id
                )
        ids: list[str] = []
        batch = 50
        started = time.perf_counter()
        for start in range(0, n, batch):
            with repo.writing() as w:
                for i in range(start, min(n, start + batch)):
                    ids.append(w.create(_observation(pids[i % patients], i)).version.id)
        rate = n / (time.perf_counter() - started)
        times = []
        for rid in random.choices(ids, k=reads):
            t = time.perf_counter()
            with repo.reading() as r:
                r.read("Observation", rid)
            times.append((time.perf_counter() - t) * 1000)
        services.store.engine.dispose()
    q = statistics.quantiles(times, n=100)
    return rate, q[49], q[94]


def rewrap(backend: str, keys: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), backend, True)
        services = build_services(settings)
        migrate.upgrade(services.store.engine)
        with services.store.engine.connect() as conn:
            ring = keyring_of(conn)
        assert ring is not None
        started = time.perf_counter()
        for start in range(0, keys, 10_000):
            rows = []
            for i in range(start, min(keys, start + 10_000)):
                kid, owner = secrets.token_hex(16), f"bench-{i}"
                kek_id, wrapped = ring.wrapper.wrap(new_data_key(), _context(kid, "patient", owner))
                rows.append(
                    {
                        "key_id": kid,
                        "scope": "patient",
                        "owner": owner,
                        "kek_id": kek_id,
                        "wrapped": wrapped,
                        "created": 0,
                        "shredded": None,
                    }
                )
            with services.store.engine.begin() as conn:
                conn.execute(insert(s.data_key), rows)
        create = time.perf_counter() - started
        path = kek_path(settings)
        assert path is not None
        kf = KekFile.load(path)
        kf.add()
        kf.save()
        started = time.perf_counter()
        done = 0
        for count in ring.rewrap(services.store.engine, batch=5000):
            done = count
        elapsed = time.perf_counter() - started
        assert done == keys, (done, keys)
        services.store.engine.dispose()
    return create, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--resources", type=int, default=3000)
    ap.add_argument("--patients", type=int, default=100)
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    a = ap.parse_args()
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, back-end {a.backend}"
    )
    results = {}
    for encrypt in (False, True, False, True):  # twice each, the second run counts
        results[encrypt] = run(a.backend, encrypt, a.resources, a.patients, a.reads)
    (off_rate, off50, off95), (on_rate, on50, on95) = results[False], results[True]
    print(
        f"ingest  off: {off_rate:8.0f} resources/s   on: {on_rate:8.0f} resources/s   "
        f"overhead {100 * (1 - on_rate / off_rate):5.1f} %"
    )
    print(
        f"read    off: p50 {off50:.3f} ms p95 {off95:.3f} ms   on: p50 {on50:.3f} ms "
        f"p95 {on95:.3f} ms   p95 overhead {on95 - off95:+.3f} ms"
    )
    create, elapsed = rewrap(a.backend, a.keys)
    print(
        f"rewrap  {a.keys} data keys in {elapsed:.2f} s ({a.keys / elapsed:,.0f}/s; "
        f"1,000,000 extrapolated: {1_000_000 * elapsed / a.keys:.1f} s); "
        f"creating them took {create:.2f} s"
    )


if __name__ == "__main__":
    main()
