"""Rate-limit benchmark: one client floods, another reads; print the reader's latency.

    python -m bench.ratelimit [--redis] [--flooders 4] [--reads 300]

Starts a fresh ``dmp-gateway serve`` (SQLite, authentication on) with two registered
clients: ``flooder`` (5 requests/s, burst 10) and ``reader`` (generous limits). First
the reader alone makes ``--reads`` sequential searches; then it does the same while
``--flooders`` threads send the flooder's requests as fast as they can. Prints the
reader's p50/p95/max latency in both phases, its statuses, and the flooder's 200s and
429s. A benchmark, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.server import gateway_server
from gateway.auth import demo
from gateway.auth.dev import (
    client_entry,
    generate_private_jwk,
    public_jwk,
    sign_token,
    token_claims,
)
from gateway.auth.registry import Rate, RateLimit
from gateway.cli.clients import add_client

AUD = "dmp-gateway-bench"
LIMITS = {
    "flooder": RateLimit(5, 10, professional=Rate(5, 10), ingest=Rate(5, 10)),
    "reader": RateLimit(10_000, 10_000, professional=Rate(10_000, 10_000), ingest=Rate(1, 1)),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def token(client: str, key: dict[str, Any]) -> str:
    claims = token_claims(
        demo.PHYSICIAN.claims(), client_id=client, audience=AUD, now=int(time.time())
    )
    return sign_token(claims, key)


def reads(url: str, key: dict[str, Any], n: int) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=url, timeout=60) as http:
        for _ in range(n):
            headers = {"authorization": f"Bearer {token('reader', key)}"}
            began = time.perf_counter()
            r = http.get("/fhir/Patient?_count=1", headers=headers)
            latencies.append(time.perf_counter() - began)
            statuses[r.status_code] += 1
    return latencies, statuses


def flood(url: str, key: dict[str, Any], stop: threading.Event, out: Counter[int]) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        while not stop.is_set():
            headers = {"authorization": f"Bearer {token('flooder', key)}"}
            out[http.get("/fhir/Patient?_count=1", headers=headers).status_code] += 1


def summary(label: str, latencies: list[float], statuses: Counter[int]) -> str:
    ms = [v * 1000 for v in latencies]
    return (
        f"{label:<22} p50 {percentile(ms, 0.5):7.1f} ms  p95 {percentile(ms, 0.95):7.1f} ms  "
        f"max {max(ms):7.1f} ms  statuses {dict(statuses)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--redis", action="store_true", help="buckets and replay guard in Redis")
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--reads", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dmpgw-bench-rl-") as directory:
        data = Path(directory)
        registry = data / "clients.yaml"
        keys = {c: generate_private_jwk("Ed25519", kid=f"{c}-1") for c in LIMITS}
        for client, limits in LIMITS.items():
            add_client(
                registry,
                client_entry(
                    client,
                    name=client,
                    role="vendor",
                    structures=[demo.HOSPITAL],
                    public_keys=[public_jwk(keys[client])],
                    limits=limits,
                ),
            )
        env = {
            "GATEWAY_AUTH": "enabled",
            "GATEWAY_AUDIENCE": AUD,
            "GATEWAY_CLIENTS_FILE": str(registry),
            "GATEWAY_TELEMETRY__LOG_LEVEL": "WARNING",
        }
        if args.redis:
            env["GATEWAY_REDIS_URL"] = "redis://127.0.0.1:6379/0"
            env["GATEWAY_SYNC__STREAM_PREFIX"] = f"dmpgw-bench-{int(time.time())}"
        with gateway_server("sqlite", extra_env=env, data_dir=data) as (url, _pid):
            reads(url, keys["reader"], 20)  # warm up
            alone = reads(url, keys["reader"], args.reads)
            stop, flooded = threading.Event(), Counter[int]()
            threads = [
                threading.Thread(target=flood, args=(url, keys["flooder"], stop, flooded))
                for _ in range(args.flooders)
            ]
            began = time.perf_counter()
            for t in threads:
                t.start()
            during = reads(url, keys["reader"], args.reads)
            stop.set()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - began
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, "
        f"store: {'Redis' if args.redis else 'per worker'}, flooders: {args.flooders}"
    )
    print(summary("reader alone", *alone))
    print(summary("reader under flood", *during))
    total = sum(flooded.values())
    print(
        f"flooder: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s): {dict(flooded)}"
    )


if __name__ == "__main__":
    main()
