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

from gateway.search.extract import default_tz, extract
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    registry = SearchRegistry.load(ROOT / "profiles")
    load_s = time.perf_counter() - t0
    resources = load_corpus(args.corpus)
    tz = default_tz()
    for r in resources:  # warm plans
        extract(r, registry, tz=tz)

    per_type: dict[str, list[float]] = defaultdict(list)
    rows_total = 0
    runs = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for r in resources:
            t = time.perf_counter()
            rows = extract(r, registry, tz=tz)
            per_type[r["resourceType"]].append(time.perf_counter() - t)
            rows_total += len(rows)
        runs.append(time.perf_counter() - start)

    best = min(runs)
    stats = registry.stats()
    print(
        f"registry: {stats.definitions} definitions, {stats.served} served bindings, "
        f"{stats.fallback} fallback ({', '.join(stats.fallback_definitions)}), "
        f"{stats.hand_compiled} hand-compiled, load {load_s * 1000:.0f} ms"
    )
    print(f"corpus: {len(resources)} resources from {args.corpus}")
    print(
        f"extraction: {len(resources) / best:,.0f} resources/s "
        f"({best / len(resources) * 1e6:.1f} µs/resource mean, best of {args.repeat}); "
        f"{rows_total / args.repeat / len(resources):.1f} rows/resource"
    )
    print(f"{'type':<24}{'count':>7}{'p50 µs':>9}{'p95 µs':>9}{'mean µs':>9}")
    for rtype, times in sorted(per_type.items(), key=lambda kv: -len(kv[1])):
        times.sort()
        n = len(times)
        print(
            f"{rtype:<24}{n // args.repeat:>7}{times[n // 2] * 1e6:>9.1f}"
            f"{times[int(n * 0.95)] * 1e6:>9.1f}{statistics.fmean(times) * 1e6:>9.1f}"
        )


if __name__ == "__main__":
    main()
