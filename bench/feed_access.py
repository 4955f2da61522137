"""Change feed for EHPAD system callers: CPU per delivered event, access decision included.

    python -m bench.feed_access [--backend postgresql|sqlite] [--consumers 10] [--limit 50]

In-process (no HTTP, no server): writes 22 patients, 20 of them residents of one EHPAD's
Group, and 1,000 Observations spread over them; then ``--consumers`` callers bound to that
Group (the demo EHPAD system token) read the feed from the beginning in rounds, as
consumers woken together do, once with each caller reading alone and once with the
shared reads (gateway.sync.feed_share). Prints the CPU time of this process per delivered
event (``time.process_time``; the database server's own CPU comes on top). ``bench.sync``
and ``bench.feed_replay`` use the development caller, whose access decision costs nothing;
this one measures the decision the real consumers need. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.server import fresh_postgres
from bench.sync import PG_ADMIN, drop_postgres
from gateway.access.context import AccessContext
from gateway.app import build_services
from gateway.auth import demo
from gateway.config import Settings
from gateway.events.memory import MemoryBus
from gateway.record.repository import Repository
from gateway.storage import migrate
from gateway.storage.changes import FeedPosition
from gateway.sync.feed import read_feed
from gateway.sync.feed_share import SharedReads
from gateway.sync.runtime import SyncRuntime, start_sync

RESIDENTS = [f"resident-{i}" for i in range(20)]
OTHERS = ["elsewhere-1", "elsewhere-2"]


def observation(patient: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org"},
    }


def load(runtime: SyncRuntime) -> None:
    dev = Repository(AccessContext.dev_open(), runtime.services)
    everyone = RESIDENTS + OTHERS
    with dev.writing() as w:
        for pid in everyone:
            w.update("Patient", pid, {"resourceType": "Patient", "id": pid})
        w.update(
            "Group",
            "ehpad-a",
            {
                "resourceType": "Group",
                "id": "ehpad-a",
                "type": "person",
                "actual": True,
                "member": [{"entity": {"reference": f"Patient/{p}"}} for p in RESIDENTS],
            },
        )
    for n in range(10):
        with dev.writing() as w:
            for i in range(100):
                w.create(observation(everyone[i % len(everyone)], 60 + (n + i) % 40))


def follow(runtime: SyncRuntime, share: SharedReads | None, consumers: int, limit: int) -> None:
    ctx = demo.EHPAD_SYSTEM.context(group="ehpad-a")
    positions = [FeedPosition()] * consumers
    delivered = 0
    start = time.process_time()
    while True:
        woken = share.now() if share is not None else 0.0
        more = False
        for c in range(consumers):
            page = read_feed(
                Repository(ctx, runtime.services),
                positions[c],
                types=["Observation"],
                limit=limit,
                share=share,
                fresh_after=woken,
            )
            positions[c] = page.position
            delivered += len(page.versions)
            more = more or bool(page.versions)
        if not more:
            break
    cpu = time.process_time() - start
    mode = "shared reads" if share is not None else "each alone  "
    print(
        f"{mode}: {delivered} events delivered, {1e6 * cpu / max(1, delivered):.0f} µs CPU"
        " per event (this process)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--consumers", type=int, default=10)
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    name = f"dmpgw_bench_feed_access_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="dmpgw-bench-access-") as data_dir:
        values: dict[str, Any] = {
            "env": "dev",
            "auth": "disabled",
            "data_dir": Path(data_dir),
            "sync": {"worker_in_server": "off"},
        }
        if args.backend == "postgresql":
            values["database_url"] = fresh_postgres(PG_ADMIN, name)
        settings = Settings(**values)
        services = build_services(settings)
        try:
            migrate.upgrade(services.store.engine)
            runtime = start_sync(settings, services, bus=MemoryBus())
            load(runtime)
            print(
                f"back-end: {args.backend}, consumers: {args.consumers}, limit: {args.limit},"
                f" {len(RESIDENTS)} residents of the caller's Group, {len(OTHERS)} others"
            )
            follow(runtime, None, args.consumers, args.limit)
            follow(runtime, SharedReads(), args.consumers, args.limit)
            runtime.close()
        finally:
            services.store.engine.dispose()
            if args.backend == "postgresql":
                drop_postgres(name)


if __name__ == "__main__":
    main()
