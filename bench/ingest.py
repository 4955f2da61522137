"""Ingestion benchmark: POST transaction Bundles over HTTP, print throughput and latency.

    python bench/ingest.py [PATH ...] [--backend sqlite|postgresql] [--url URL]
                           [--concurrency N] [--repeat K]

PATH: Bundle files or folders (default: ../shared/corpora/synthea). Hospital and
practitioner Bundles are posted first, as Synthea expects. Without ``--url`` a fresh
``dmp-gateway serve`` is started on the chosen back-end. ``--repeat`` posts the patient
Bundles K times, with fresh ids, to load more data. Prints resources/second, bundle
latency p50/p95 and the server's resident memory. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx

from bench.server import gateway_server, rss_mib

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "synthea"


def bundle_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    first = [f for f in files if f.name.startswith(("hospital", "practitioner"))]
    return sorted(first, key=lambda f: not f.name.startswith("hospital")) + [
        f for f in files if f not in first
    ]


def fresh_ids(raw: str) -> str:
    """The same Bundle with new urn:uuid placeholders and identifiers (for --repeat)."""
    mapping: dict[str, str] = {}

    def swap(m: re.Match[str]) -> str:
        return mapping.setdefault(m.group(0), str(uuid.uuid4()))

    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", swap, raw)


def chunks(raw: str, size: int) -> Iterator[str]:
    """Split a Bundle that is over the server's entry limit, keeping entry order."""
    bundle = json.loads(raw)
    entries = bundle.get("entry", [])
    for i in range(0, len(entries), size):
        yield json.dumps({**bundle, "entry": entries[i : i + size]})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, default=[DEFAULT])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", help="an already running gateway (base URL, without /fhir)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--max-entries", type=int, default=1000)
    args = parser.parse_args()

    files = bundle_files(args.paths)
    shared = [f for f in files if f.name.startswith(("hospital", "practitioner"))]
    patients = [f for f in files if f not in shared]
    texts = {f: f.read_text("utf-8") for f in files}

    server = nullcontext((args.url, None)) if args.url else gateway_server(args.backend)
    with server as (url, pid):
        client = httpx.Client(
            base_url=url + "/fhir",
            timeout=600,
            headers={"content-type": "application/fhir+json", "prefer": "return=minimal"},
        )
        latencies: list[float] = []
        resources = 0
        lock = threading.Lock()
        peak = 0.0

        def post(body: str) -> None:
            nonlocal resources
            n = body.count('"request"')
            t0 = time.perf_counter()
            r = client.post("/", content=body.encode("utf-8"))
            dt = time.perf_counter() - t0
            if r.status_code != 200:
                raise SystemExit(f"bundle refused: {r.status_code} {r.text[:500]}")
            with lock:
                latencies.append(dt)
                resources += n

        for f in shared:
            for chunk in chunks(texts[f], args.max_entries):
                post(chunk)
        resources, latencies = 0, []

        def work() -> Iterator[str]:
            for round_ in range(args.repeat):
                for f in patients:
                    yield texts[f] if round_ == 0 else fresh_ids(texts[f])

        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            for _ in pool.map(post, work()):
                if pid is not None:
                    peak = max(peak, rss_mib(pid))
        elapsed = time.perf_counter() - start
        if pid is not None:
            peak = max(peak, rss_mib(pid))
        result: dict[str, Any] = {
            "backend": args.backend if not args.url else "external",
            "bundles": len(latencies),
            "resources": resources,
            "seconds": round(elapsed, 2),
            "resources_per_second": round(resources / elapsed, 1),
            "bundle_latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "bundle_latency_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            "server_rss_mib": round(peak, 1) if pid is not None else None,
            "concurrency": args.concurrency,
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
            f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}",
        }
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
