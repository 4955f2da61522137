"""The write path in process: Synthea transaction Bundles through the FHIR route table.

    python -m bench.write_path [--bundles 6] [--validation strict|warn|off] [--no-freeze]

Loads the hospital and practitioner Bundles, then times ``--bundles`` patient Bundles
posted as transactions to ``dispatch`` (what the HTTP endpoint calls: validation, rules,
reference rewriting, indexing, storage and the audit entry, in one transaction each) on a
fresh SQLite database, without HTTP. Before timing, it freezes the start-up heap as the
served process does (``gateway.app.settle_heap``), unless ``--no-freeze``. Prints
resources/second by wall clock and by this process's CPU time, and the CPU per resource.
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

from gateway.access.context import AccessContext
from gateway.app import build_services, settle_heap
from gateway.config import Settings
from gateway.fhir.json import loads
from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage import migrate

SYNTHEA = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "synthea"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=SYNTHEA)
    parser.add_argument("--bundles", type=int, default=6)
    parser.add_argument("--validation", choices=["strict", "warn", "off"], default="strict")
    parser.add_argument("--no-freeze", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    files = sorted(args.corpus.glob("*.json"))
    shared = [f for f in files if f.name.startswith(("hospital", "practitioner"))]
    patients = [f for f in files if f not in shared][: args.bundles]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            env="dev",
            auth="disabled",
            data_dir=Path(tmp),
            validation=args.validation,
            limits={"max_bundle_entries": 100_000},
        )
        services = build_services(settings)
        migrate.upgrade(services.store.engine)

        def post(path: Path) -> int:
            bundle = loads(path.read_bytes(), max_items=10_000_000)
            request = FhirRequest(
                "POST",
                [],
                resource=bundle,
                base="http://bench/fhir",
                headers={"prefer": "return=minimal"},
            )
            response = dispatch(request, Repository(AccessContext.dev_open(), services))
            if response.status != 200:
                raise SystemExit(f"{path.name}: {response.status} {(response.body or b'')[:300]!r}")
            return len(bundle["entry"])

        for path in shared:
            post(path)
        if not args.no_freeze:
            settle_heap()
        resources = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for path in patients:
            resources += post(path)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        services.store.engine.dispose()
    print(
        json.dumps(
            {
                "bundles": len(patients),
                "resources": resources,
                "validation": args.validation,
                "heap frozen": not args.no_freeze,
                "resources/s (wall)": round(resources / wall),
                "resources/s (CPU)": round(resources / cpu),
                "CPU ms per resource": round(cpu / resources * 1000, 3),
                "machine": f"{platform.machine()}, Python {platform.python_version()}",
            }
        )
    )


if __name__ == "__main__":
    main()
