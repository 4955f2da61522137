"""Benchmark the audit log's pure parts on a log of realistic AuditEvent entries.

Prints figures, asserts nothing. Run with ``.venv/bin/python -m bench.audit_memory [-n N]``;
``bench/audit.py`` measures the log stored in SQLite and served over HTTP.

1. Builds N canonical-JSON AuditEvents (about 600 bytes each) in memory, appends them
   to the Merkle tree (the sequencer's work, nodes into the in-memory store) and signs
   a checkpoint every 1,000 entries.
2. Times the offline verifier's full recomputation: from in-memory entries, and from
   the NDJSON export lines (parsing included).
3. Times inclusion and consistency proof generation (p50/p99) from the node store.
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import time

import orjson

from gateway.audit.checkpoint import Checkpoint, Signer, sign_checkpoint
from gateway.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from gateway.audit.proofs import consistency_proof, inclusion_proof
from gateway.audit.tree import Frontier, MemoryNodeStore
from gateway.audit.verifier import Entry, format_export_line, verify, verify_export

ORIGIN = "audit.dmp-gateway.example/log"
PROFESSIONS = ["10", "21", "40", "50", "60", "69", "70", "91"]
ACTIONS = [("R", "read"), ("R", "search-type"), ("C", "create"), ("U", "update")]


def audit_event(i: int, rng: random.Random) -> bytes:
    """One AuditEvent shaped after IHE BALP, serialised canonically (sorted keys)."""
    action, interaction = ACTIONS[i % len(ACTIONS)]
    patient = rng.randrange(1_000_000)
    event: dict[str, object] = {
        "resourceType": "AuditEvent",
        "type": {"code": "rest"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": interaction}],
        "action": action,
        "recorded": f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}Z",
        "outcome": "0" if i % 17 else "8",
        "agent": [
            {"who": {"identifier": {"value": f"client-{i % 40}"}}, "requestor": False},
            {
                "who": {
                    "identifier": {
                        "system": "urn:oid:1.2.250.1.71.4.2.1",
                        "value": f"8{rng.randrange(10**10):010d}",
                    }
                },
                "role": [{"coding": [{"code": PROFESSIONS[i % len(PROFESSIONS)]}]}],
                "location": {"reference": f"Organization/fin-{rng.randrange(10**9):09d}"},
                "purposeOfUse": [{"coding": [{"code": "TREAT" if i % 50 else "ETREAT"}]}],
                "requestor": True,
            },
        ],
        "source": {"observer": {"display": "dmp-gateway"}},
        "entity": [
            {"what": {"reference": f"Patient/p{patient}"}, "type": {"code": "1"}},
            {"what": {"reference": f"Observation/o{rng.randrange(10**8)}/_history/{i % 5 + 1}"}},
        ],
    }
    if interaction == "search-type":
        query = f"Observation?patient=p{patient}&category=laboratory&_count=50"
        event["entity"] = [
            *event["entity"],  # type: ignore[misc]
            {"query": base64.b64encode(query.encode()).decode()},
        ]
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def report(label: str, start: float, n: int) -> None:
    seconds = time.perf_counter() - start
    print(f"{label:<48} {seconds:8.2f} s   {n / seconds:>12,.0f} entries/s")


def percentiles(samples_ns: list[int]) -> str:
    q = statistics.quantiles(samples_ns, n=100)
    return f"p50 {q[49] / 1000:7.1f} µs   p99 {q[98] / 1000:7.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1_000_000, help="entries in the log")
    parser.add_argument("--every", type=int, default=1000, help="entries per checkpoint")
    parser.add_argument("--proofs", type=int, default=10_000, help="proofs to time")
    args = parser.parse_args()
    n, every = args.n, args.every
    rng = random.Random(9162)

    start = time.perf_counter()
    entries = [audit_event(i, rng) for i in range(n)]
    sizes = [len(e) for e in entries]
    print(
        f"{n:,} entries, {statistics.mean(sizes):.0f} bytes on average "
        f"(min {min(sizes)}, max {max(sizes)}), generated in {time.perf_counter() - start:.1f} s"
    )

    signer = Signer.generate(ORIGIN)
    store = MemoryNodeStore()
    notes: list[str] = []

    start = time.perf_counter()
    frontier = Frontier()
    for i, entry in enumerate(entries):
        frontier, nodes = frontier.append(leaf_hash(entry))
        store.put_nodes(nodes)
        if (i + 1) % every == 0 or i + 1 == n:
            notes.append(sign_checkpoint(Checkpoint(ORIGIN, i + 1, frontier.root()), [signer]))
    report("append + store nodes + sign checkpoints", start, n)
    print(f"{len(notes):,} checkpoints signed")

    keys = [signer.verifier_key]
    records: list[Entry] = [(i, e, None) for i, e in enumerate(entries)]
    start = time.perf_counter()
    verdict = verify(records, notes, keys)
    report("verify: recompute all roots (in-memory entries)", start, n)
    print(f"  verdict: ok={verdict.ok} {verdict.message}")
    del records

    lines = [format_export_line(i, e) for i, e in enumerate(entries)]
    print(f"export: {sum(map(len, lines)) / 2**20:,.0f} MiB of NDJSON")
    checkpoints_text = "".join(notes)
    start = time.perf_counter()
    verdict = verify_export(lines, checkpoints_text, keys)
    report("verify: parse NDJSON export + recompute roots", start, n)
    print(f"  verdict: ok={verdict.ok} {verdict.message}")
    del lines

    leaves = [leaf_hash(e) for e in entries[: min(n, 50_000)]]
    root = frontier.root()
    samples: list[int] = []
    checks: list[int] = []
    for _ in range(args.proofs):
        index = rng.randrange(len(leaves))
        t0 = time.perf_counter_ns()
        proof = inclusion_proof(index, n, store)
        t1 = time.perf_counter_ns()
        ok = verify_inclusion(leaves[index], index, n, proof, root)
        t2 = time.perf_counter_ns()
        if not ok:
            raise SystemExit(f"inclusion proof for {index} did not verify")
        samples.append(t1 - t0)
        checks.append(t2 - t1)
    print(f"inclusion proof generation (size {n:,}):   {percentiles(samples)}")
    print(f"inclusion proof verification:              {percentiles(checks)}")

    samples = []
    for _ in range(args.proofs):
        first = rng.randrange(1, n + 1)
        t0 = time.perf_counter_ns()
        proof = consistency_proof(first, n, store)
        samples.append(time.perf_counter_ns() - t0)
    first_root = Frontier.load(first, store).root()
    assert_ok = verify_consistency(first, n, proof, first_root, root)
    print(f"consistency proof generation (to {n:,}): {percentiles(samples)}  (last ok={assert_ok})")


if __name__ == "__main__":
    main()
