"""Access-control benchmark (issue 6): what the DMP rules add to read and search latency.

    python -m bench.access [--observations 2000] [--requests 400]

Loads the demo record (``dmp-gateway demo``: Alice, her care team) and ``--observations``
vital signs for Alice on a fresh SQLite database, then times the same interactions in
process through the FHIR route table (``dispatch``: parsing, SQL, Bundle serialisation,
audit entry), once as the open development caller (no rule evaluated) and once as the
demo physician under the full rules (care team, matrix, labels, consent facts), the two
interleaved request by request so that machine noise falls on both alike:

- read by id of a random Observation;
- ``Observation?subject=Patient/alice&_count=50`` (a 50-result search);
- ``Observation?subject=Patient/alice&code=…&_sort=-date&_count=50``.

Prints p50/p95 per caller and the overhead (p95 difference in ms, and in % of the open
caller's p95). Targets: at most 1 ms added at p95 per request, and at most 20% on a
50-result search. A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.access.context import AccessContext
from gateway.app import build_services
from gateway.auth import demo
from gateway.cli.demo import ensure_demo_clients, load_demo_record
from gateway.config import Settings
from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage import migrate

BASE = "http://bench.local/fhir"
CASES = {
    "read by id": None,
    "search 50 results": "subject=Patient/alice&_count=50",
    "search code + sort": "subject=Patient/alice&code=http://loinc.org|8867-4&_sort=-date&_count=50",
}


def _vital(i: int) -> dict[str, Any]:
    code = "8867-4" if i % 2 else "8310-5"
    unit = "/min" if i % 2 else "Cel"
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Patient/alice"},
        "effectiveDateTime": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T08:{i % 60:02d}:00+01:00",
        "valueQuantity": {
            "value": 60 + i % 40,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def _call(repo: Repository, path: str, query: str | None) -> float:
    from urllib.parse import parse_qsl

    req = FhirRequest(
        "GET",
        path.split("/"),
        query=parse_qsl(query or "", keep_blank_values=True),
        base=BASE,
    )
    started = time.perf_counter()
    response = dispatch(req, repo)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise SystemExit(f"{path}?{query}: {response.status} {(response.body or b'')[:300]!r}")
    return elapsed


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--observations", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        # Development mode with authentication off: the dev caller is open (no rule is
        # evaluated for it), while a professional's context still meets every rule.
        settings = Settings(env="dev", auth="disabled", data_dir=Path(tmp))
        ensure_demo_clients(settings)
        load_demo_record(settings)
        services = build_services(settings)
        migrate.upgrade(services.store.engine)
        open_repo = Repository(AccessContext.dev_open(), services)
        ids: list[str] = []
        for start in range(0, args.observations, 200):
            with open_repo.writing() as w:
                for i in range(start, min(args.observations, start + 200)):
                    ids.append(w.create(_vital(i)).version.id)
        physician = demo.PHYSICIAN.context(patient=demo.PATIENT_INS[0])
        callers: dict[str, AccessContext] = {
            "open (no rules)": AccessContext.dev_open(),
            "physician (rules)": physician,
        }
        results: dict[str, dict[str, list[float]]] = {
            case: {name: [] for name in callers} for case in CASES
        }
        rng = random.Random(6)
        for case, query in CASES.items():
            for _ in range(args.requests):
                rid = rng.choice(ids)
                for name, ctx in callers.items():
                    path = f"Observation/{rid}" if query is None else "Observation"
                    results[case][name].append(_call(Repository(ctx, services), path, query))
        services.store.engine.dispose()
    for case, by_caller in results.items():
        base, ruled = by_caller["open (no rules)"], by_caller["physician (rules)"]
        row = {
            "case": case,
            "open p50/p95 ms": [round(_pct(base, 50), 2), round(_pct(base, 95), 2)],
            "rules p50/p95 ms": [round(_pct(ruled, 50), 2), round(_pct(ruled, 95), 2)],
            "added p95 ms": round(_pct(ruled, 95) - _pct(base, 95), 2),
            "added p95 %": round(100 * (_pct(ruled, 95) - _pct(base, 95)) / _pct(base, 95), 1),
        }
        print(json.dumps(row))
    print(
        json.dumps(
            {
                "observations": args.observations,
                "requests per case and caller": args.requests,
                "machine": f"{platform.machine()}, Python {platform.python_version()}",
            }
        )
    )


if __name__ == "__main__":
    main()
