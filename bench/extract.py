"""Benchmark: index extraction throughput over the Synthea corpus.

Usage: ``python bench/extract.py [CORPUS_DIR] [--repeat N]``. Reads every bundle in
the corpus (default ``../shared/corpora/synthea``), rewrites ``urn:uuid:`` references
to ``Type/id`` as a transaction would, then times :func:`gateway.search.extract` per
resource and prints resources/second overall and µs/resource per type.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from gateway.search.dates import date_range
from gateway.search.extract import default_tz, extract
from gateway.search.normalise import normalise
from gateway.search.references import parse_reference
from gateway.search.registry import SearchRegistry

ROOT = Path(__file__).resolve().parent.parent
# ../shared/corpora/synthea from the repository root (also from a worktree one level deeper).
DEFAULT_CORPUS = (
    next(
        (p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()),
        ROOT.parent / "shared",
    )
    / "corpora"
    / "synthea"
)


def _resolve_uuids(node: Any, ids: dict[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and ref in ids:
            node = {**node, "reference": ids[ref]}
        return {k: _resolve_uuids(v, ids) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_uuids(v, ids) for v in node]
    return node


def load_corpus(corpus: Path) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for path in sorted(corpus.glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        entries = bundle.get("entry", [])
        ids = {
            e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in entries
            if "fullUrl" in e and "id" in e.get("resource", {})
        }
        resources += [_resolve_uuids(e["resource"], ids) for e in entries]
    return resources


def _clear_caches() -> None:
    date_range.cache_clear()
    parse_reference.cache_clear()
    normalise.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    registry = SearchRegistry.load(ROOT / "profiles")
    load_s = time.perf_counter() - t0
    resources = load_corpus(args.corpus)
    tz = default_tz()
    for r in resources:  # warm plans
        extract(r, registry, tz=tz)

    # Whole-corpus runs without per-call timers (wall and CPU time; the CPU figure is
    # the one to trust on a busy machine), then one run timing each call by type.
    runs = []
    cpu_runs = []
    rows_total = 0
    for _ in range(args.repeat):
        _clear_caches()  # every run starts cold: only repetition within the corpus helps
        start, cpu_start = time.perf_counter(), time.process_time()
        for r in resources:
            rows_total += len(extract(r, registry, tz=tz))
        runs.append(time.perf_counter() - start)
        cpu_runs.append(time.process_time() - cpu_start)
    per_type: dict[str, list[float]] = defaultdict(list)
    _clear_caches()
    for r in resources:
        t = time.perf_counter()
        extract(r, registry, tz=tz)
        per_type[r["resourceType"]].append(time.perf_counter() - t)

    best = min(runs)
    best_cpu = min(cpu_runs)
    stats = registry.stats()
    print(
        f"registry: {stats.definitions} definitions, {stats.served} served bindings, "
        f"{stats.fallback} fallback ({', '.join(stats.fallback_definitions)}), "
        f"{stats.hand_compiled} hand-compiled, load {load_s * 1000:.0f} ms"
    )
    print(f"corpus: {len(resources)} resources from {args.corpus}")
    print(
        f"extraction: {len(resources) / best:,.0f} resources/s wall, "
        f"{len(resources) / best_cpu:,.0f} resources/s CPU "
        f"({best_cpu / len(resources) * 1e6:.1f} µs CPU/resource mean, best of {args.repeat}); "
        f"{rows_total / args.repeat / len(resources):.1f} rows/resource"
    )
    print(f"{'type':<24}{'count':>7}{'p50 µs':>9}{'p95 µs':>9}{'mean µs':>9}")
    for rtype, times in sorted(per_type.items(), key=lambda kv: -len(kv[1])):
        times.sort()
        n = len(times)
        print(
            f"{rtype:<24}{n:>7}{times[n // 2] * 1e6:>9.1f}"
            f"{times[int(n * 0.95)] * 1e6:>9.1f}{statistics.fmean(times) * 1e6:>9.1f}"
        )


if __name__ == "__main__":
    main()
